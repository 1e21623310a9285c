"""The values every stage shares: `Paper`, `Answer` and the other types with their wire
form, the errors (each naming its fix), the settings, and how a paper is credited."""
