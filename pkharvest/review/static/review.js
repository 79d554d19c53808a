// pkharvest review: keyboard shortcuts and the entity span editor. No dependencies beyond
// htmx (hx-boost swaps the body, so everything here works by event delegation).
(function () {
  "use strict";

  function byId(id) { return document.getElementById(id); }

  function copyReviewer() {
    var who = byId("reviewer");
    if (!who) { return; }
    document.querySelectorAll(".reviewer-copy").forEach(function (el) { el.value = who.value; });
  }

  function submit(id) {
    var form = byId(id);
    if (!form) { return; }
    copyReviewer();
    if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
  }

  document.addEventListener("submit", copyReviewer, true);

  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) { return; }
    var t = ev.target;
    if (t && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA")) {
      if (ev.key === "Escape") { t.blur(); }
      return;
    }
    var link;
    switch (ev.key) {
      case "a": submit("accept-form"); break;
      case "r": submit("reject-form"); break;
      case "c": {
        var box = byId("correct-box");
        if (box) { box.open = true; ev.preventDefault(); byId("f-value").focus(); }
        break;
      }
      case "n":
        link = byId("next-link") || document.querySelector("a.item-link");
        if (link) { link.click(); }
        break;
      case "q":
        link = byId("to-queue");
        if (link) { link.click(); }
        break;
      default: return;
    }
  });

  // ---- span editor -------------------------------------------------------------------------

  function spans() {
    var input = byId("spans-input");
    return input ? JSON.parse(input.value || "[]") : [];
  }

  function esc(s) {
    return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  function render(list) {
    var p = byId("sentence");
    var text = p.getAttribute("data-text");
    list.sort(function (a, b) { return a.start - b.start; });
    byId("spans-input").value = JSON.stringify(list);
    var html = "", pos = 0;
    list.forEach(function (s) {
      if (s.start > pos) {
        html += '<span class="plain" data-start="' + pos + '">' + esc(text.slice(pos, s.start)) + "</span>";
      }
      html += '<span class="ent ent-' + s.label + '" data-start="' + s.start + '" data-label="' +
        s.label + '" title="' + s.label + '">' + esc(text.slice(s.start, s.end)) + "</span>";
      pos = s.end;
    });
    if (pos < text.length) {
      html += '<span class="plain" data-start="' + pos + '">' + esc(text.slice(pos)) + "</span>";
    }
    p.innerHTML = html;
    var box = byId("spans-box");
    if (box) { box.open = true; }
  }

  function offsetOf(node, offset) {
    var el = node.nodeType === 3 ? node.parentElement : node;
    if (node.nodeType !== 3) {
      // a boundary between child nodes: take the start of the child at `offset`
      var child = node.childNodes[offset];
      if (child && child.getAttribute) { return parseInt(child.getAttribute("data-start"), 10); }
      return null;
    }
    var start = el && el.getAttribute("data-start");
    return start === null ? null : parseInt(start, 10) + offset;
  }

  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest && ev.target.closest(".label-btn");
    if (btn) {
      var sel = window.getSelection();
      var p = byId("sentence");
      if (!sel || sel.rangeCount === 0 || sel.isCollapsed || !p) { return; }
      var r = sel.getRangeAt(0);
      if (!p.contains(r.startContainer) || !p.contains(r.endContainer)) { return; }
      var start = offsetOf(r.startContainer, r.startOffset);
      var end = offsetOf(r.endContainer, r.endOffset);
      if (start === null || end === null || end <= start) { return; }
      var text = p.getAttribute("data-text");
      while (start < end && /\s/.test(text[start])) { start++; }
      while (end > start && /\s/.test(text[end - 1])) { end--; }
      if (end <= start) { return; }
      var label = btn.getAttribute("data-label");
      var kept = spans().filter(function (s) { return s.end <= start || s.start >= end; });
      kept.push({start: start, end: end, label: label});
      sel.removeAllRanges();
      render(kept);
      return;
    }
    var ent = ev.target.closest && ev.target.closest("#sentence .ent");
    var box = byId("spans-box");
    if (ent && box && box.open) {
      var at = parseInt(ent.getAttribute("data-start"), 10);
      render(spans().filter(function (s) { return s.start !== at; }));
    }
  });
})();
