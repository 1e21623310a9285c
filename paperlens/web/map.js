// The library map: a click on a point opens that paper below the map; hovering shows
// its title. One delegated listener on the component root survives re-renders of the SVG.
element.addEventListener('click', (e) => {
  const pt = e.target.closest('[data-paper]');
  if (pt) trigger('click', {paper: pt.dataset.paper});
});
element.addEventListener('mouseover', (e) => {
  const pt = e.target.closest('[data-paper]');
  const label = element.querySelector('.pl-map-hover');
  if (pt && label) label.textContent = pt.querySelector('title').textContent;
});
