// Vietnamese first, English second. The choice persists (localStorage) and `?lang=en` sets it.
import { provinceLabel } from "./config.js";

const STRINGS = {
  vi: {
    skip: "Bỏ qua bản đồ, đến phần tra cứu",
    nav: "Liên kết",
    api: "Dữ liệu mở (API)",
    "site.title": "Công khai quy hoạch",
    "site.tagline": "Tra cứu quy hoạch sử dụng đất và quy hoạch xây dựng của thửa đất",
    "site.mapLabel": "Bản đồ quy hoạch. Bấm vào một điểm để xem quy hoạch tại đó; phím mũi tên để di chuyển, + và − để thu phóng.",
    "site.panel": "Tra cứu và chú giải",
    "site.queryCentre": "Tra cứu tại tâm bản đồ",
    "search.title": "Tra cứu thửa đất",
    "find.label": "Tìm xã, đường, vùng quy hoạch hoặc thửa đất",
    "find.hint": "Ví dụ: Văn Giang · Quốc lộ 39 · Vĩnh Khúc tờ 12 thửa 45 (tên xã cũ vẫn tìm được)",
    "find.results": "Kết quả tìm kiếm",
    "find.or": "hoặc chọn xã, số tờ, số thửa:",
    "find.count": "{n} kết quả; dùng phím mũi tên để chọn",
    "find.none": "Không tìm thấy “{q}”.",
    "find.parcel": "Thửa {thua}, tờ {to}",
    "find.formerly": "trước đây: {name}",
    "find.nowIn": "{district}, trước 1/7/2025 — nay thuộc {now}",
    "find.shown": "Đã chuyển bản đồ đến {name}.",
    "site.locate": "Vị trí của tôi",
    "site.locating": "Đang xác định vị trí…",
    "site.noLocation": "Không xác định được vị trí của bạn.",
    "sheet.hide": "Thu gọn báo cáo",
    "sheet.show": "Xem báo cáo",
    "search.commune": "Xã / phường",
    "search.chooseCommune": "— Chọn xã, phường —",
    "search.sheet": "Số tờ bản đồ",
    "search.parcel": "Số thửa",
    "search.submit": "Tra cứu",
    "search.byCoords": "Tra cứu theo tọa độ",
    "search.crs": "Hệ tọa độ",
    "search.clickHint": "Hoặc bấm vào một điểm trên bản đồ.",
    "search.searching": "Đang tra cứu…",
    "search.notFound": "Không tìm thấy thửa đất số {thua}, tờ bản đồ số {to}, {xa}. Hãy kiểm tra lại số tờ, số thửa và xã/phường.",
    "search.noParcelHere": "Không có thửa đất nào tại vị trí này trong dữ liệu đã công bố.",
    "search.outside": "Vị trí nằm ngoài phạm vi dữ liệu của tỉnh.",
    "search.swappedXY": "Có vẻ X và Y bị đảo: X là tọa độ Bắc (khoảng 2 triệu mét), Y là tọa độ Đông (khoảng 500 nghìn mét).",
    "search.swappedLatLon": "Có vẻ vĩ độ và kinh độ bị đảo: ô thứ nhất là vĩ độ, ô thứ hai là kinh độ.",
    "search.failed": "Không tra cứu được: {reason}",
    "search.unavailable": "Máy chủ tạm thời không trả lời, vui lòng thử lại sau ít phút.",
    "val.commune": "Hãy chọn xã/phường.",
    "val.integer": "Hãy nhập một số nguyên từ {min} đến {max}.",
    "val.number": "Hãy nhập một số (dùng dấu chấm hoặc dấu phẩy cho phần thập phân).",
    "val.range": "Giá trị phải trong khoảng {min} đến {max}.",
    "crs.tm3": "VN-2000 TM-3 (EPSG:{epsg}) — mét",
    "crs.wgs84": "WGS 84 — kinh độ, vĩ độ (độ)",
    "coord.x": "X — tọa độ Bắc (m)",
    "coord.y": "Y — tọa độ Đông (m)",
    "coord.lon": "Kinh độ (°)",
    "coord.lat": "Vĩ độ (°)",
    "layers.title": "Lớp bản đồ",
    "layers.background": "Nền bản đồ",
    "layers.ownData": "Dữ liệu của tỉnh",
    "layers.basemap": "Bản đồ nền",
    "layers.fromZoom": "(từ mức thu phóng {z})",
    "legend.title": "Chú giải",
    "legend.visible": "Loại đất đang hiển thị",
    "legend.all": "Toàn bộ bảng mã loại đất",
    "legend.none": "Phóng to bản đồ để xem các loại đất.",
    "legend.parcel": "Thửa đất đang tra cứu",
    "legend.redline": "Phần nằm trong chỉ giới đường đỏ",
    "report.title": "Thửa đất số {thua}, tờ bản đồ số {to}",
    "report.commune": "Xã/phường",
    "report.area": "Diện tích",
    "report.legalArea": "Diện tích pháp lý",
    "report.currentUse": "Loại đất hiện trạng",
    "report.planned": "Quy hoạch sử dụng đất",
    "report.zone": "Vùng",
    "report.use": "Loại đất quy hoạch",
    "report.share": "Tỷ lệ",
    "report.construction": "Chỉ tiêu quy hoạch xây dựng",
    "report.plot": "Ô quy hoạch",
    "report.function": "Chức năng",
    "report.coverage": "Mật độ xây dựng",
    "report.storeys": "Tầng cao",
    "report.far": "Hệ số sử dụng đất",
    "report.setback": "Khoảng lùi",
    "report.noConstruction": "Thửa đất không nằm trong đồ án quy hoạch xây dựng nào đã công bố.",
    "report.redline": "Có {area} m² ({pct}) nằm trong chỉ giới đường đỏ{road} — phần này dành cho đường giao thông (tô đỏ trên bản đồ).",
    "report.noRedline": "Thửa đất không bị chỉ giới đường đỏ cắt qua.",
    "report.plan": "Phương án quy hoạch",
    "report.decision": "Quyết định phê duyệt",
    "report.decisionText": "số {number} ngày {date} của {authority}",
    "report.dataDate": "Dữ liệu cập nhật",
    "report.sources": "Nguồn dữ liệu",
    "consult.title": "Lấy ý kiến cộng đồng",
    "consult.open": "Phương án này đang được lấy ý kiến đến {date}. Góp ý của bạn gắn với vị trí thửa đất này.",
    "consult.closed": "Đã hết thời gian lấy ý kiến ({date}).",
    "consult.count": "Vùng {zone}: {n} góp ý",
    "consult.none": "Không có góp ý nào cho các vùng của thửa đất này.",
    "consult.text": "Ý kiến của bạn",
    "consult.name": "Họ tên (không bắt buộc)",
    "consult.contact": "Điện thoại hoặc email (không bắt buộc)",
    "consult.private": "Họ tên và liên hệ chỉ cơ quan lấy ý kiến được xem; không bao giờ công khai.",
    "consult.send": "Gửi góp ý",
    "consult.empty": "Hãy viết ý kiến trước khi gửi.",
    "consult.thanks": "Cảm ơn bạn, góp ý đã được ghi nhận.",
    "consult.tooMany": "Bạn đã gửi nhiều góp ý; hãy thử lại sau ít phút.",
    "consult.failed": "Chưa gửi được góp ý; hãy thử lại.",
    "report.documents": "Hồ sơ, văn bản của phương án",
    "report.qr": "Mã QR dẫn đến trang tra cứu này",
    "report.supersededBy": "ĐÃ ĐƯỢC ĐIỀU CHỈNH bởi {name}. Phiên bản này không còn hiệu lực.",
    "version.adjusted": "Điều chỉnh {title}",
    "version.decision": "QĐ {number} ngày {date}",
    "report.sourceDate": "số liệu ngày {date}",
    "report.publishedOn": "công bố ngày {date}",
    "report.road": "Tuyến đường",
    "report.roadWidth": "lộ giới {width} m",
    "report.version": "Phiên bản quy hoạch",
    "report.current": "hiện hành",
    "report.superseded": "đã điều chỉnh",
    "report.draft": "dự thảo, chưa có hiệu lực",
    "report.draftNote": "DỰ THẢO đang công bố để lấy ý kiến. Phương án này chưa được phê duyệt, chưa có hiệu lực.",
    "version.draftOf": "Dự thảo {name}",
    "report.changesTitle": "Thay đổi so với {other}",
    "report.noChanges": "Quy hoạch trên thửa đất này không thay đổi giữa hai phiên bản.",
    "report.changed": "đã thay đổi",
    "report.changeLine": "{area} m²: {from} → {to}",
    "report.print": "In báo cáo (A4)",
    "report.permalink": "Đường dẫn đến thửa đất này",
    "report.copy": "Sao chép đường dẫn",
    "report.copied": "Đã sao chép đường dẫn.",
    "report.printedOn": "In ngày {date} từ {url}",
    "report.unknown": "không rõ",
    "report.atPoint": "Tại điểm {lon}, {lat}",
    "footer.note": "Thông tin chỉ có giá trị tham khảo; văn bản pháp lý là quyết định phê duyệt quy hoạch và hồ sơ địa chính do cơ quan có thẩm quyền cung cấp.",
    "ioc.skip": "Bỏ qua bản đồ, đến danh sách điểm trực tuyến",
    "ioc.title": "Bản đồ Trung tâm Điều hành thông minh",
    "ioc.updated": "Cập nhật lúc",
    "ioc.every": "làm mới mỗi",
    "ioc.mapLabel": "Bản đồ IOC: mọi lớp dữ liệu và các điểm trực tuyến",
    "ioc.panel": "Điểm trực tuyến và lớp bản đồ",
    "ioc.live": "Điểm trực tuyến",
    "ioc.alerts": "{n} điểm vượt ngưỡng cảnh báo",
    "ioc.alerts1": "1 điểm vượt ngưỡng cảnh báo",
    "ioc.noAlerts": "Không có điểm nào vượt ngưỡng cảnh báo.",
    "ioc.offline": "mất kết nối",
    "ioc.online": "hoạt động",
    "ioc.stale": "Mất kết nối tới máy chủ — đang thử lại",
    "ioc.threshold": "Ngưỡng cảnh báo",
    "ioc.latest": "Số đo mới nhất",
    "ioc.at": "lúc",
    "ioc.noReading": "chưa có số đo",
    "ioc.alert": "VƯỢT NGƯỠNG",
    "ioc.show": "Xem trên bản đồ",
  },
  en: {
    skip: "Skip the map, go to the search",
    nav: "Links",
    api: "Open data (API)",
    "site.title": "Planning disclosure",
    "site.tagline": "Find the land-use and construction plans that apply to a parcel",
    "site.mapLabel": "Planning map. Click a point to see the plan there; arrow keys pan, + and − zoom.",
    "site.panel": "Search and legend",
    "site.queryCentre": "Look up the map centre",
    "search.title": "Find a parcel",
    "find.label": "Find a commune, road, plan zone or parcel",
    "find.hint": "E.g. Van Giang · Quoc lo 39 · Vinh Khuc sheet 12 parcel 45 (pre-2025 commune names work too)",
    "find.results": "Search results",
    "find.or": "or choose commune, sheet and parcel:",
    "find.count": "{n} results; use the arrow keys to choose",
    "find.none": "Nothing found for “{q}”.",
    "find.parcel": "Parcel {thua}, sheet {to}",
    "find.formerly": "formerly {name}",
    "find.nowIn": "{district}, before 1 July 2025 — now part of {now}",
    "find.shown": "The map now shows {name}.",
    "site.locate": "My location",
    "site.locating": "Finding your location…",
    "site.noLocation": "Your location could not be found.",
    "sheet.hide": "Hide the report",
    "sheet.show": "Show the report",
    "search.commune": "Commune / ward",
    "search.chooseCommune": "— Choose a commune or ward —",
    "search.sheet": "Map sheet number",
    "search.parcel": "Parcel number",
    "search.submit": "Search",
    "search.byCoords": "Search by coordinates",
    "search.crs": "Coordinate system",
    "search.clickHint": "Or click a point on the map.",
    "search.searching": "Searching…",
    "search.notFound": "Parcel {thua} on map sheet {to}, {xa} was not found. Please check the sheet, parcel number and commune.",
    "search.noParcelHere": "There is no parcel at this point in the published data.",
    "search.outside": "This point is outside the province's data.",
    "search.swappedXY": "X and Y look swapped: X is the northing (about 2 million metres), Y the easting (about 500 thousand metres).",
    "search.swappedLatLon": "Latitude and longitude look swapped: the first box is the latitude, the second the longitude.",
    "search.failed": "The search failed: {reason}",
    "search.unavailable": "The server is not answering; please try again in a few minutes.",
    "val.commune": "Please choose a commune or ward.",
    "val.integer": "Please enter a whole number from {min} to {max}.",
    "val.number": "Please enter a number (a point or a comma for decimals).",
    "val.range": "The value must be between {min} and {max}.",
    "crs.tm3": "VN-2000 TM-3 (EPSG:{epsg}) — metres",
    "crs.wgs84": "WGS 84 — longitude, latitude (degrees)",
    "coord.x": "X — northing (m)",
    "coord.y": "Y — easting (m)",
    "coord.lon": "Longitude (°)",
    "coord.lat": "Latitude (°)",
    "layers.title": "Map layers",
    "layers.background": "Background",
    "layers.ownData": "The province's data",
    "layers.basemap": "Basemap",
    "layers.fromZoom": "(from zoom {z})",
    "legend.title": "Legend",
    "legend.visible": "Land-use codes on the map",
    "legend.all": "Full land-use code table",
    "legend.none": "Zoom in to see land-use codes.",
    "legend.parcel": "The parcel looked up",
    "legend.redline": "Part inside the red line",
    "report.title": "Parcel {thua}, map sheet {to}",
    "report.commune": "Commune/ward",
    "report.area": "Area",
    "report.legalArea": "Legal area",
    "report.currentUse": "Current land use",
    "report.planned": "Land-use plan",
    "report.zone": "Zone",
    "report.use": "Planned use",
    "report.share": "Share",
    "report.construction": "Construction-planning indicators",
    "report.plot": "Plot",
    "report.function": "Function",
    "report.coverage": "Building coverage",
    "report.storeys": "Storeys",
    "report.far": "Floor-area ratio",
    "report.setback": "Setback",
    "report.noConstruction": "The parcel is not in any published construction plan.",
    "report.redline": "{area} m² ({pct}) lies inside the red line{road} — this part is reserved for the road (red on the map).",
    "report.noRedline": "No red line crosses this parcel.",
    "report.plan": "Plan",
    "report.decision": "Approval decision",
    "report.decisionText": "no. {number} of {date}, {authority}",
    "report.dataDate": "Data as of",
    "report.sources": "Data sources",
    "consult.title": "Public consultation",
    "consult.open": "This plan is open for comment until {date}. Your comment is tied to this parcel's location.",
    "consult.closed": "The comment period ended on {date}.",
    "consult.count": "Zone {zone}: {n} comments",
    "consult.none": "No comments were left on this parcel's zones.",
    "consult.text": "Your comment",
    "consult.name": "Name (optional)",
    "consult.contact": "Phone or e-mail (optional)",
    "consult.private": "Your name and contact are seen only by the consulting authority; they are never published.",
    "consult.send": "Send the comment",
    "consult.empty": "Write your comment before sending it.",
    "consult.thanks": "Thank you, your comment has been received.",
    "consult.tooMany": "You have sent many comments; try again in a few minutes.",
    "consult.failed": "The comment could not be sent; try again.",
    "report.documents": "Documents of this plan version",
    "report.qr": "QR code linking to this page",
    "report.supersededBy": "SUPERSEDED: adjusted by {name}. This version is no longer in force.",
    "version.adjusted": "Adjustment of the {title}",
    "version.decision": "Decision {number} of {date}",
    "report.sourceDate": "source dated {date}",
    "report.publishedOn": "published {date}",
    "report.road": "Road",
    "report.roadWidth": "right-of-way {width} m",
    "report.version": "Plan version",
    "report.current": "in force",
    "report.superseded": "adjusted",
    "report.draft": "draft, not in force",
    "report.draftNote": "DRAFT published for comment. This plan is not approved and not in force.",
    "version.draftOf": "Draft {name}",
    "report.changesTitle": "Changes from {other}",
    "report.noChanges": "The plan for this parcel is the same in both versions.",
    "report.changed": "changed",
    "report.changeLine": "{area} m²: {from} → {to}",
    "report.print": "Print the report (A4)",
    "report.permalink": "Link to this parcel",
    "report.copy": "Copy the link",
    "report.copied": "Link copied.",
    "report.printedOn": "Printed on {date} from {url}",
    "report.unknown": "unknown",
    "report.atPoint": "At {lon}, {lat}",
    "footer.note": "For reference only; the legal documents are the plan approval decisions and the cadastral records issued by the competent authorities.",
    "ioc.skip": "Skip the map, go to the live points",
    "ioc.title": "Intelligent Operations Centre map",
    "ioc.updated": "Updated at",
    "ioc.every": "refreshed every",
    "ioc.mapLabel": "IOC map: every data layer and the live points",
    "ioc.panel": "Live points and map layers",
    "ioc.live": "Live points",
    "ioc.alerts": "{n} points above their alert threshold",
    "ioc.alerts1": "1 point above its alert threshold",
    "ioc.noAlerts": "No point is above its alert threshold.",
    "ioc.offline": "offline",
    "ioc.online": "online",
    "ioc.stale": "Lost contact with the server — retrying",
    "ioc.threshold": "Alert threshold",
    "ioc.latest": "Latest reading",
    "ioc.at": "at",
    "ioc.noReading": "no reading yet",
    "ioc.alert": "ALERT",
    "ioc.show": "Show on the map",
  },
};

const KEY = "bando.lang";
const listeners = [];

function initial() {
  const fromUrl = new URLSearchParams(location.search).get("lang");
  if (fromUrl === "vi" || fromUrl === "en") {
    store(fromUrl);
    return fromUrl;
  }
  try {
    const saved = localStorage.getItem(KEY);
    if (saved === "vi" || saved === "en") return saved;
  } catch (e) { /* storage may be disabled */ }
  return "vi";
}

function store(value) {
  try { localStorage.setItem(KEY, value); } catch (e) { /* not persisted */ }
}

export let lang = initial();

/** A UI string with {name} slots filled. */
export function t(key, values = {}) {
  const text = STRINGS[lang][key] ?? STRINGS.vi[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in values ? String(values[name]) : m));
}

/** The language's half of a catalogue {vi, en} text. */
export function pick(text) {
  if (text == null) return "";
  if (typeof text === "string") return text;
  return text[lang] ?? text.vi ?? "";
}

export function fmtNumber(value, digits = 0, maxDigits = digits) {
  if (value == null || Number.isNaN(Number(value))) return "—";
  return Number(value).toLocaleString(lang === "vi" ? "vi-VN" : "en-GB",
    { minimumFractionDigits: digits, maximumFractionDigits: maxDigits });
}

export function fmtPercent(value, digits = 1) {
  if (value == null) return "—";
  return `${fmtNumber(value, digits)} %`;
}

export function fmtDate(value) {
  if (!value) return "—";
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(String(value));
  return dateOnly ? d.toLocaleDateString(lang === "vi" ? "vi-VN" : "en-GB", { timeZone: "UTC" })
    : d.toLocaleString(lang === "vi" ? "vi-VN" : "en-GB");
}

/** Translate the static page: [data-i18n] text, [data-i18n-aria] labels, <html lang>. */
export function applyStatic(root = document) {
  document.documentElement.lang = lang;
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-aria]")) el.setAttribute("aria-label", t(el.dataset.i18nAria));
  for (const el of root.querySelectorAll(".province")) el.textContent = provinceLabel(lang);
  const button = document.getElementById("lang-switch");
  if (button) {
    const other = lang === "vi" ? "en" : "vi";
    button.textContent = other === "en" ? "English" : "Tiếng Việt";
    button.lang = other;
    button.setAttribute("aria-label", other === "en" ? "Switch to English" : "Chuyển sang tiếng Việt");
  }
}

export function setLang(value) {
  lang = value;
  store(value);
  applyStatic();
  for (const fn of listeners) fn(value);
}

export function onLangChange(fn) {
  listeners.push(fn);
}

export function bindSwitch() {
  applyStatic();
  const button = document.getElementById("lang-switch");
  if (button) button.addEventListener("click", () => setLang(lang === "vi" ? "en" : "vi"));
}
