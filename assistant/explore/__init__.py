"""The library beyond one question: related papers, the map, the digest of what's new,
exports for reference managers, and the questions a library suggests."""
