// The map of an items or item page: the page's own data as GeoJSON, drawn with the vendored
// Leaflet; no basemap (nothing is loaded from outside bando).
(function () {
  "use strict";
  var el = document.getElementById("ogc-map");
  if (!el || !window.L) { return; }
  var url = new URL(window.location.href);
  url.searchParams.set("f", "json");
  var map = L.map(el, { attributionControl: false }).setView([20.9, 106.05], 10);
  fetch(url.toString(), { headers: { Accept: "application/geo+json" } })
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (doc) {
      if (!doc) { return; }
      var layer = L.geoJSON(doc, { style: { color: "#0b5394", weight: 2 } }).addTo(map);
      var bounds = layer.getBounds();
      if (bounds.isValid()) { map.fitBounds(bounds, { maxZoom: 18 }); }
    });
})();
