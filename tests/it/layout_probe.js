// Injected at the end of a report page by the browser layout test. Opens every <details> (a
// collapsed table must fit too once opened), then lists:
//   wide:    elements and text runs reaching past the viewport's left or right edge, unless an
//            ancestor scrolls horizontally (overflow-x auto or scroll): those scroll inside their
//            own box;
//   titles:  chart titles (the <text class="chart-title"> lines of each figure.chart SVG) whose
//            box is not fully inside their SVG, or whose lines together are not the whole title
//            (the SVG's aria-label);
//   clipped: any other text of a chart SVG reaching outside it;
//   sticky:  first cells (the model column) of a table.data that leave its scrolling box when the
//            box is scrolled all the way right (counted in `scrolled`, the tables wider than
//            their box).
// The result is JSON in <pre id="vc-layout-probe">, and posted to the parent page when the page is
// shown in a frame (the test sets the viewport width with the frame's width).
(function () {
  "use strict";
  var each = function (list, f) { Array.prototype.forEach.call(list, f); };
  each(document.querySelectorAll("details"), function (d) { d.open = true; });
  var vw = document.documentElement.clientWidth;
  var scrolls = function (el) {
    for (var a = el.parentElement; a && a !== document.documentElement; a = a.parentElement) {
      var o = getComputedStyle(a).overflowX;
      if (o === "auto" || o === "scroll") { return true; }
    }
    return false;
  };
  var name = function (el) {
    var s = el.tagName.toLowerCase();
    if (el.id) { s += "#" + el.id; }
    var cls = el.getAttribute("class");
    if (cls) { s += "." + cls.trim().split(/\s+/).join("."); }
    var sec = el.closest("section");
    return s + (sec ? " in #" + sec.id : "") + " `" + (el.textContent || "").trim().slice(0, 50) + "`";
  };
  var box = function (r) { return [r.left, r.right, r.top, r.bottom].map(Math.round).join(", "); };
  var inside = function (r, s) {
    return r.left >= s.left - 0.5 && r.right <= s.right + 0.5 && r.top >= s.top - 0.5 && r.bottom <= s.bottom + 0.5;
  };
  var wide = [];
  each(document.body.querySelectorAll("*"), function (el) {
    var r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) { return; }
    if ((r.right > vw + 0.5 || r.left < -0.5) && !scrolls(el)) {
      wide.push(name(el) + " [" + box(r) + "]");
    }
  });
  // Text runs too: a long unbreakable word overflows its element without widening the element.
  var walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  var range = document.createRange();
  for (var node = walker.nextNode(); node; node = walker.nextNode()) {
    var el = node.parentElement;
    if (!el || !node.textContent.trim() || el.closest("svg")) { continue; }
    range.selectNodeContents(node);
    var r = range.getBoundingClientRect();
    if ((r.right > vw + 0.5 || r.left < -0.5) && (r.width > 0) && !scrolls(node)) {
      wide.push("text `" + node.textContent.trim().slice(0, 60) + "` in " + name(el) + " [" + box(r) + "]");
    }
  }
  var titles = [], clipped = [];
  var svgs = document.querySelectorAll("figure.chart svg");
  each(svgs, function (svg) {
    var s = svg.getBoundingClientRect();
    var label = (svg.getAttribute("aria-label") || "").replace(/\s+/g, " ").trim();
    var lines = svg.querySelectorAll("text.chart-title");
    var joined = Array.prototype.map.call(lines, function (t) { return t.textContent; }).join(" ");
    if (joined.replace(/\s+/g, " ").trim() !== label) {
      titles.push("title lines `" + joined + "` are not the title `" + label + "`");
    }
    each(lines, function (t) {
      var r = t.getBoundingClientRect();
      if (!inside(r, s)) {
        titles.push("`" + t.textContent + "` [" + box(r) + "] outside its SVG [" + box(s) + "]");
      }
    });
    each(svg.querySelectorAll("text"), function (t) {
      var r = t.getBoundingClientRect();
      if (r.width > 0 && !inside(r, s)) {
        clipped.push("`" + t.textContent.trim() + "` of `" + label + "` [" + box(r) + "] outside [" + box(s) + "]");
      }
    });
  });
  // Last, since it scrolls: each table wider than its scrolling box, scrolled to its far right.
  var sticky = [], scrolled = 0;
  each(document.querySelectorAll("table.data"), function (t) {
    var sbox = null;
    for (var a = t.parentElement; a && a !== document.documentElement; a = a.parentElement) {
      var o = getComputedStyle(a).overflowX;
      if (o === "auto" || o === "scroll") { sbox = a; break; }
    }
    if (!sbox || sbox.scrollWidth <= sbox.clientWidth + 1) { return; }
    scrolled += 1;
    sbox.scrollLeft = sbox.scrollWidth;
    var b = sbox.getBoundingClientRect();
    each(t.rows, function (row) {
      var c = row.cells[0];
      if (!c) { return; }
      var r = c.getBoundingClientRect();
      if (r.left < b.left - 0.5 || r.right > b.right + 0.5) {
        sticky.push(name(c) + " [" + box(r) + "] left its scrolling box [" + box(b) + "]");
      }
    });
    sbox.scrollLeft = 0;
  });
  var out = document.createElement("pre");
  out.id = "vc-layout-probe";
  out.textContent = JSON.stringify({
    viewport: vw,
    scroll_width: document.documentElement.scrollWidth,
    charts: svgs.length,
    wide: wide,
    titles: titles,
    clipped: clipped,
    sticky: sticky,
    scrolled: scrolled
  });
  document.body.appendChild(out);
  if (window.parent !== window) { window.parent.postMessage(out.textContent, "*"); }
})();
