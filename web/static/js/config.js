// The page's configuration: derived by the server from the catalogue and embedded as a
// JSON data island (never an inline script); see web/site_config.py.
export const config = JSON.parse(document.getElementById("bando-config").textContent);

export const landUse = Object.fromEntries(config.landUse.map((c) => [c.code, c]));

export function layerById(id) {
  return config.layers.find((l) => l.id === id);
}

/** The province as a page names it: "Tỉnh Hưng Yên" / "Hưng Yên province". */
export function provinceLabel(lang) {
  return lang === "en" ? `${config.province.name} province` : config.province.fullName;
}
