// compensa web page: the body atlas (GET /v1/body-atlas) drawn as the input map and as the results picture.
// Everything is built with createElementNS and textContent; path data comes from the atlas as `d` attributes.
"use strict";

const SVGNS = "http://www.w3.org/2000/svg";

function svgEl(tag, attrs = {}, text) {
  const node = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

// -- fallback atlas: used only when GET /v1/body-atlas is missing (the older simple figure) ----------------
// Front view: the figure faces you, so its right side is on the viewer's left. Back: its right is on your right.
const FALLBACK_FRONT = [
  ["ellipse", [100, 30, 22, 26], "head", null], ["ellipse", [100, 50, 13, 6], "jaw", null],
  ["rect", [90, 57, 20, 13], "neck", null], ["rect", [72, 74, 56, 46], "chest", null],
  ["rect", [72, 121, 27, 11], "ribs", "right"], ["rect", [101, 121, 27, 11], "ribs", "left"],
  ["ellipse", [60, 82, 12, 12], "shoulder", "right"], ["ellipse", [140, 82, 12, 12], "shoulder", "left"],
  ["rect", [40, 96, 15, 37], "arm", "right"], ["rect", [145, 96, 15, 37], "arm", "left"],
  ["rect", [40, 134, 7, 14], "lateral_elbow", "right"], ["rect", [48, 134, 7, 14], "medial_elbow", "right"],
  ["rect", [153, 134, 7, 14], "lateral_elbow", "left"], ["rect", [145, 134, 7, 14], "medial_elbow", "left"],
  ["rect", [40, 149, 15, 42], "wrist_forearm", "right"], ["rect", [145, 149, 15, 42], "wrist_forearm", "left"],
  ["rect", [58, 160, 14, 32], "lateral_hip", "right"], ["rect", [128, 160, 14, 32], "lateral_hip", "left"],
  ["rect", [78, 172, 21, 18], "groin", "right"], ["rect", [101, 172, 21, 18], "groin", "left"],
  ["rect", [62, 196, 10, 68], "lateral_thigh", "right"], ["rect", [128, 196, 10, 68], "lateral_thigh", "left"],
  ["rect", [73, 196, 19, 68], "anterior_thigh", "right"], ["rect", [108, 196, 19, 68], "anterior_thigh", "left"],
  ["rect", [92.5, 196, 6, 68], "medial_thigh", "right"], ["rect", [101.5, 196, 6, 68], "medial_thigh", "left"],
  ["rect", [64, 270, 8, 20], "lateral_knee", "right"], ["rect", [128, 270, 8, 20], "lateral_knee", "left"],
  ["ellipse", [84, 280, 11, 10], "anterior_knee", "right"], ["ellipse", [116, 280, 11, 10], "anterior_knee", "left"],
  ["rect", [95.5, 270, 4, 20], "medial_knee", "right"], ["rect", [100.5, 270, 4, 20], "medial_knee", "left"],
  ["rect", [75, 294, 18, 80], "shin", "right"], ["rect", [107, 294, 18, 80], "shin", "left"],
  ["ellipse", [71, 380, 5, 5], "lateral_ankle", "right"], ["ellipse", [97, 380, 5, 5], "medial_ankle", "right"],
  ["ellipse", [129, 380, 5, 5], "lateral_ankle", "left"], ["ellipse", [103, 380, 5, 5], "medial_ankle", "left"],
  ["ellipse", [84, 390, 12, 4], "foot_arch", "right"], ["ellipse", [116, 390, 12, 4], "foot_arch", "left"],
  ["ellipse", [84, 399, 11, 4], "midfoot", "right"], ["ellipse", [116, 399, 11, 4], "midfoot", "left"],
  ["ellipse", [84, 410, 12, 6], "forefoot", "right"], ["ellipse", [116, 410, 12, 6], "forefoot", "left"],
];
const FALLBACK_BACK = [
  ["ellipse", [100, 30, 22, 26], "head", null], ["rect", [90, 56, 20, 14], "neck", null],
  ["rect", [72, 74, 56, 50], "upper_back", null],
  ["ellipse", [60, 82, 12, 12], "shoulder", "left"], ["ellipse", [140, 82, 12, 12], "shoulder", "right"],
  ["rect", [40, 96, 15, 95], "arm", "left"], ["rect", [145, 96, 15, 95], "arm", "right"],
  ["rect", [76, 127, 48, 30], "lower_back", null], ["rect", [84, 160, 32, 13], "sacroiliac", null],
  ["ellipse", [86, 189, 14, 14], "buttock", "left"], ["ellipse", [114, 189, 14, 14], "buttock", "right"],
  ["rect", [74, 206, 22, 62], "posterior_thigh", "left"], ["rect", [104, 206, 22, 62], "posterior_thigh", "right"],
  ["ellipse", [85, 280, 10, 8], "posterior_knee", "left"], ["ellipse", [115, 280, 10, 8], "posterior_knee", "right"],
  ["rect", [76, 292, 18, 76], "calf", "left"], ["rect", [106, 292, 18, 76], "calf", "right"],
  ["rect", [81, 370, 8, 20], "achilles", "left"], ["rect", [111, 370, 8, 20], "achilles", "right"],
  ["ellipse", [85, 398, 9, 6], "heel", "left"], ["ellipse", [115, 398, 9, 6], "heel", "right"],
];
const FALLBACK_OUTLINE = [
  "M100 4 C84 4 78 16 78 30 C78 46 88 56 90 58 L90 70 L62 72 C48 74 40 86 40 100 L38 190 L56 192 L58 150 "
  + "L62 196 L62 270 L74 376 L70 416 L98 416 L98 294 L100 200 L102 294 L102 416 L130 416 L126 376 L138 270 "
  + "L138 196 L142 150 L144 192 L162 190 L160 100 C160 86 152 74 138 72 L110 70 L110 58 C112 56 122 46 122 30 "
  + "C122 16 116 4 100 4 Z",
];

function shapePath(shape, [a, b, c, d]) {
  if (shape === "rect") return `M${a} ${b}h${c}v${d}h${-c}Z`;
  return `M${a - c} ${b}a${c} ${d} 0 1 0 ${2 * c} 0a${c} ${d} 0 1 0 ${-2 * c} 0Z`;   // ellipse cx cy rx ry
}

function fallbackView(zones, view, labelOf) {
  return {
    width: 200, height: 420, outline: FALLBACK_OUTLINE, details: [],
    zones: zones.map(([shape, nums, site, side]) => ({
      site, side, d: shapePath(shape, nums), label: labelOf(site),
      cx: shape === "rect" ? nums[0] + nums[2] / 2 : nums[0], cy: shape === "rect" ? nums[1] + nums[3] / 2 : nums[1],
    })),
    side_labels: view === "front" ? [{ x: 14, y: 20, text: "R" }, { x: 180, y: 20, text: "L" }]
                                  : [{ x: 14, y: 20, text: "L" }, { x: 180, y: 20, text: "R" }],
  };
}

function fallbackAtlas(labelOf) {
  const views = { front: fallbackView(FALLBACK_FRONT, "front", labelOf), back: fallbackView(FALLBACK_BACK, "back", labelOf) };
  const pain = {};
  for (const [view, v] of Object.entries(views)) {
    for (const z of v.zones) (pain[z.site] ||= []).push({ view, side: z.side, x: z.cx, y: z.cy });
  }
  return { views, anchors: { muscle: {}, pain }, fallback: true };
}

// The atlas from the server, or the fallback figure when the endpoint is not there.
async function loadAtlas(labelOf) {
  try {
    const response = await api("/v1/body-atlas");
    if (response.ok) {
      const atlas = await response.json();
      if (atlas && atlas.views && atlas.views.front && atlas.views.back) return atlas;
    }
  } catch (e) { /* fall back */ }
  return fallbackAtlas(labelOf);
}

const sideWords = (side) => (side ? ` (${side})` : "");

function drawFigure(group, view) {
  for (const d of view.outline || []) group.append(svgEl("path", { d, class: "outline" }));
  for (const d of view.details || []) group.append(svgEl("path", { d, class: "detail" }));
}

function drawSideLabels(group, view) {
  for (const s of view.side_labels || []) group.append(svgEl("text", { x: s.x, y: s.y, class: "maplabel", "aria-hidden": "true" }, s.text));
}

// -- the input map ---------------------------------------------------------------------------------------------
// Each zone is a toggle button (aria-pressed) named by its label and side. The zones of one map are one group
// with a roving tabindex: one Tab stop per map, arrow keys move through the zones in reading order (top to
// bottom by cy, then left to right by cx), Home/End jump to the first/last, Enter/Space toggles.
// On a coarse pointer (touch) the zones are too small to hit at phone width, so the first tap zooms that view
// into the tapped area (the SVG viewBox becomes a window around the tap, the factor chosen so the smallest zone
// is at least TOUCH_PX on screen); a tap on a zone while zoomed toggles it, a drag pans, a tap off the zones
// recentres, and "Zoom out" (or Escape) shows the whole figure again. A mouse click toggles directly, and so
// does a click that does not come from a pointer (assistive technology: event.detail is 0).
const TOUCH_PX = 44, TOUCH_MARGIN = 1.06, MAX_ZOOM = 10;
const inputMaps = new Map();   // svg -> its controller

const coarsePointer = () => window.matchMedia && window.matchMedia("(pointer: coarse)").matches;

function drawInputMap(svg, atlas, viewName, onToggle) {
  const view = atlas.views[viewName];
  svg.textContent = "";
  const full = { x: 0, y: 0, w: view.width, h: view.height };
  svg.setAttribute("viewBox", `0 0 ${view.width} ${view.height}`);
  svg.setAttribute("role", "group");
  const g = svgEl("g");
  drawFigure(g, view);
  const nodes = [];
  for (const z of view.zones) {
    const name = `${z.label || z.site}${sideWords(z.side)}`;
    const node = svgEl("path", {
      d: z.d, class: "zone", tabindex: "-1", role: "button", "aria-pressed": "false", "aria-label": name,
      "data-site": z.site, "data-side": z.side || "", "data-testid": `zone-${viewName}-${z.site}${z.side ? "-" + z.side : ""}`,
    });
    node.append(svgEl("title", {}, name));
    node._zone = z;
    nodes.push(node);
    g.append(node);
  }
  drawSideLabels(g, view);
  svg.append(g);
  const order = [...nodes].sort((a, b) => (a._zone.cy - b._zone.cy) || (a._zone.cx - b._zone.cx));
  if (order.length) order[0].setAttribute("tabindex", "0");

  const old = inputMaps.get(svg);
  if (old) old.abort.abort();
  const abort = new AbortController(), on = { signal: abort.signal };
  const map = { svg, view, full, box: { ...full }, zoomed: false, order, abort, lastPointer: "", panUntil: 0, tapUntil: 0, onToggle };
  inputMaps.set(svg, map);
  mapTools(map, viewName);

  const toggle = (node) => onToggle(node.dataset.site, node.dataset.side || null);
  const focusZone = (node) => {
    for (const n of order) n.setAttribute("tabindex", n === node ? "0" : "-1");
    node.focus();
  };
  for (const node of order) {
    node.addEventListener("focus", () => {
      for (const n of order) n.setAttribute("tabindex", n === node ? "0" : "-1");
      if (map.zoomed) keepInWindow(map, node);
    }, on);
    node.addEventListener("keydown", (e) => {
      const i = order.indexOf(node);
      const moves = { ArrowDown: i + 1, ArrowRight: i + 1, ArrowUp: i - 1, ArrowLeft: i - 1, Home: 0, End: order.length - 1 };
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); toggle(node); }
      else if (e.key in moves) { e.preventDefault(); focusZone(order[Math.max(0, Math.min(order.length - 1, moves[e.key]))]); }
      else if (e.key === "Escape" && map.zoomed) { e.preventDefault(); zoomOut(map); }
    }, on);
  }
  svg.addEventListener("pointerdown", (e) => {
    map.lastPointer = e.pointerType;
    if (map.zoomed) map.drag = { id: e.pointerId, x: e.clientX, y: e.clientY, box: { ...map.box }, moved: false };
  }, on);
  svg.addEventListener("pointermove", (e) => {
    const d = map.drag;
    if (!d || d.id !== e.pointerId) return;
    const dx = e.clientX - d.x, dy = e.clientY - d.y;
    if (!d.moved && Math.hypot(dx, dy) < 10) return;
    if (!d.moved) { d.moved = true; try { svg.setPointerCapture(e.pointerId); } catch (err) { /* not captured */ } }
    const scale = svg.getBoundingClientRect().width / map.box.w;   // screen px per atlas unit
    setWindow(map, d.box.x - dx / scale, d.box.y - dy / scale, map.box.w, map.box.h);
  }, on);
  // A touch (or pen) tap is handled at pointerup, on the element the finger came down on: the click Chromium
  // makes of a tap is hit-tested again (with touch adjustment) and can land on the map instead of the zone.
  // The click that follows is then ignored; a mouse click, or a click from assistive technology
  // (event.detail 0), is handled as a click.
  const tapped = (e, node) => {
    if (!map.zoomed && zoomWanted(map)) { zoomAt(map, e.clientX, e.clientY); return; }
    if (node) toggle(node);
    else if (map.zoomed) centreAt(map, e.clientX, e.clientY);
  };
  const endDrag = (e) => {
    const d = map.drag && map.drag.id === e.pointerId ? map.drag : null;
    map.drag = null;
    if (d && d.moved) { map.panUntil = performance.now() + 500; return; }   // the end of a drag is no tap
    if (e.type === "pointerup" && e.pointerType !== "mouse" && e.isPrimary) {
      map.tapUntil = performance.now() + 700;
      tapped(e, e.target.closest && e.target.closest(".zone"));
    }
  };
  svg.addEventListener("pointerup", endDrag, on);
  svg.addEventListener("pointercancel", endDrag, on);
  svg.addEventListener("click", (e) => {
    const fromPointer = e.detail > 0;
    if (fromPointer && (performance.now() < map.panUntil || performance.now() < map.tapUntil)) return;
    const node = e.target.closest && e.target.closest(".zone");
    if (!fromPointer) { if (node) toggle(node); return; }
    tapped(e, node);
  }, on);
  window.addEventListener("resize", () => updateTools(map), on);
  updateTools(map);
  return map;
}

// The row above a map on touch screens: a hint, or the "Zoom out" button while zoomed.
function mapTools(map, viewName) {
  const figure = map.svg.closest("figure");
  if (!figure) return null;
  let tools = figure.querySelector(".map-tools");
  if (!tools) {
    tools = el("div", { class: "map-tools" },
      el("span", { class: "map-hint small", text: "Tap to zoom in" }),
      el("button", { type: "button", class: "secondary map-zoom-out", "data-testid": `zoom-out-${viewName}`, hidden: "", text: "Zoom out",
        "aria-label": `Zoom out of the ${viewName} map` }));
    figure.insertBefore(tools, map.svg);
  }
  const button = tools.querySelector("button");
  button.replaceWith(button.cloneNode(true));   // drop the listener of an earlier drawing
  tools.querySelector("button").addEventListener("click", () => zoomOut(map));
  map.tools = tools;
  return tools;
}

function updateTools(map) {
  if (!map.tools) return;
  const wanted = zoomWanted(map) || map.zoomed;
  map.tools.hidden = !wanted;
  map.tools.querySelector(".map-hint").hidden = map.zoomed;
  map.tools.querySelector(".map-hint").textContent = "Tap to zoom in";
  map.tools.querySelector("button").hidden = !map.zoomed;
  map.svg.classList.toggle("zoomed", map.zoomed);
}

// The zoom that makes the smallest zone of this map at least TOUCH_PX on screen at its current width.
function zoomFactor(map) {
  const width = map.svg.getBoundingClientRect().width;
  if (!width) return 1;
  const scale = width / map.full.w;   // px per atlas unit at the whole figure
  let smallest = Infinity;
  for (const node of map.order) {
    const b = node.getBBox();
    smallest = Math.min(smallest, Math.min(b.width, b.height));
  }
  if (!isFinite(smallest) || smallest <= 0) return 1;
  return (TOUCH_PX * TOUCH_MARGIN) / (smallest * scale);
}

function zoomWanted(map) {
  return (coarsePointer() || map.lastPointer === "touch") && zoomFactor(map) > 1;
}

function toUnits(map, clientX, clientY) {
  const ctm = map.svg.getScreenCTM();
  if (!ctm) return { x: map.box.x + map.box.w / 2, y: map.box.y + map.box.h / 2 };
  const p = new DOMPoint(clientX, clientY).matrixTransform(ctm.inverse());
  return { x: p.x, y: p.y };
}

function setWindow(map, x, y, w, h) {
  const f = map.full;
  x = Math.max(f.x, Math.min(f.x + f.w - w, x));
  y = Math.max(f.y, Math.min(f.y + f.h - h, y));
  map.box = { x, y, w, h };
  map.svg.setAttribute("viewBox", `${x} ${y} ${w} ${h}`);
}

function zoomAt(map, clientX, clientY) {
  const factor = Math.min(MAX_ZOOM, Math.max(2, zoomFactor(map)));
  const p = toUnits(map, clientX, clientY);
  const w = map.full.w / factor, h = map.full.h / factor;
  map.zoomed = true;
  map.factor = factor;
  setWindow(map, p.x - w / 2, p.y - h / 2, w, h);
  updateTools(map);
}

function centreAt(map, clientX, clientY) {
  const p = toUnits(map, clientX, clientY);
  setWindow(map, p.x - map.box.w / 2, p.y - map.box.h / 2, map.box.w, map.box.h);
}

function keepInWindow(map, node) {
  const b = node.getBBox(), w = map.box;
  if (b.x >= w.x && b.y >= w.y && b.x + b.width <= w.x + w.w && b.y + b.height <= w.y + w.h) return;
  setWindow(map, b.x + b.width / 2 - w.w / 2, b.y + b.height / 2 - w.h / 2, w.w, w.h);
}

function zoomOut(map) {
  const focusBack = map.tools && map.tools.contains(document.activeElement);
  map.zoomed = false;
  map.drag = null;
  setWindow(map, map.full.x, map.full.y, map.full.w, map.full.h);
  updateTools(map);
  if (focusBack) (map.order.find((n) => n.getAttribute("tabindex") === "0") || map.svg).focus();
}

function markZones(isOn) {
  for (const z of document.querySelectorAll(".zone")) {
    const on = isOn(z.dataset.site, z.dataset.side || null);
    z.classList.toggle("on", on);
    z.setAttribute("aria-pressed", String(on));
  }
}

const sideMatches = (want, have) => !want || want === "both" || !have || want === have;

// Anchors of one id (muscle or pain) on the given side; the region's pain zones stand in for a muscle
// the atlas has no anchor for.
function anchorsOf(atlas, kind, id, side, region, regionOfPain) {
  let list = ((atlas.anchors || {})[kind] || {})[id] || [];
  if (!list.length && kind === "muscle" && region) {
    for (const [site, points] of Object.entries(atlas.anchors.pain || {})) {
      if (regionOfPain(site) === region) { list = points; break; }
    }
  }
  return list.filter((a) => sideMatches(side, a.side));
}

// The results picture: front and back side by side; pain zones filled red, targets marked green (stretch,
// circles) and blue (strengthen, diamonds), and a line from each target to the pain site its chain explains.
function drawPicture(svg, atlas, report, caseData, regionOfPain) {
  const title = svg.querySelector("title");
  svg.textContent = "";
  const front = atlas.views.front, back = atlas.views.back;
  const gap = 20;
  const width = front.width + gap + back.width, height = Math.max(front.height, back.height);
  svg.setAttribute("viewBox", `0 0 ${width} ${height + 16}`);
  if (title) svg.append(title);
  const offset = { front: 0, back: front.width + gap }, top = 14;
  const at = (a) => [offset[a.view] + a.x, top + a.y];   // an anchor in the picture's coordinates
  const layers = {};
  for (const name of ["front", "back"]) {
    const g = svgEl("g", { transform: `translate(${offset[name]} ${top})` });
    drawFigure(g, atlas.views[name]);
    g.append(svgEl("text", { x: atlas.views[name].width / 2, y: -2, class: "viewlabel", "text-anchor": "middle" }, name));
    layers[name] = svgEl("g");
    g.append(layers[name]);
    drawSideLabels(g, atlas.views[name]);
    svg.append(g);
  }
  const lines = svgEl("g", { class: "chains" }), marks = svgEl("g", { class: "marks" });
  svg.append(lines, marks);
  const painItems = (caseData.pain || []).map((p) => (typeof p === "string" ? { site: p.split(":")[0], side: p.split(":")[1] } : p));
  const words = [];
  for (const p of painItems) {
    let drawn = false;
    for (const name of ["front", "back"]) {
      for (const z of atlas.views[name].zones) {
        if (z.site !== p.site || !sideMatches(p.side, z.side)) continue;
        const mark = svgEl("path", { d: z.d, class: "mark pain", "data-kind": "pain", "data-item": p.site, "data-side": z.side || p.side || "" });
        mark.append(svgEl("title", {}, `hurts: ${z.label || p.site}${sideWords(z.side)}`));
        layers[name].append(mark);
        drawn = true;
      }
    }
    if (!drawn) {
      for (const a of anchorsOf(atlas, "pain", p.site, p.side, null, regionOfPain)) {
        if (layers[a.view]) layers[a.view].append(svgEl("circle", { cx: a.x, cy: a.y, r: 8, class: "mark pain", "data-kind": "pain", "data-item": p.site, "data-side": a.side || "" }));
      }
    }
    words.push(`hurts: ${p.site.replace(/_/g, " ")}${sideWords(p.side)}`);
  }
  for (const t of report.targets || []) {
    const kind = t.action === "strengthen" ? "strengthen" : "stretch";
    const points = anchorsOf(atlas, "muscle", t.muscle, t.side, t.region, regionOfPain).filter((a) => offset[a.view] !== undefined);
    const painId = (t.chain || [])[(t.chain || []).length - 1];
    for (const a of points) {
      const [x, y] = at(a);
      // the chain: to the pain site it explains, on the same view when the site shows there, else across
      const ends = anchorsOf(atlas, "pain", painId, a.side || t.side, null, regionOfPain).filter((e) => offset[e.view] !== undefined);
      const end = ends.find((e) => e.view === a.view) || ends[0];
      if (end) {
        const [x2, y2] = at(end);
        lines.append(svgEl("line", { x1: x, y1: y, x2, y2, class: `chain ${kind}`, "data-kind": "chain", "data-item": t.muscle, "data-to": painId, "data-side": a.side || "" }));
      }
      const s = 6;
      const mark = kind === "stretch"
        ? svgEl("circle", { cx: x, cy: y, r: s, class: `mark ${kind}` })
        : svgEl("path", { d: `M${x} ${y - s - 1}l${s + 1} ${s + 1}l${-s - 1} ${s + 1}l${-s - 1} ${-s - 1}Z`, class: `mark ${kind}` });
      mark.setAttribute("data-kind", kind);
      mark.setAttribute("data-item", t.muscle);
      mark.setAttribute("data-side", a.side || t.side || "");
      mark.append(svgEl("title", {}, `${kind}: ${t.label}${sideWords(a.side || t.side)}`));
      marks.append(mark);
    }
    words.push(`${kind}: ${t.label}${sideWords(t.side)}`);
  }
  if (title) title.textContent = `Body picture. ${words.join("; ") || "nothing marked"}.`;
}
