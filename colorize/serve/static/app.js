// colorize's local page: upload a photo, place colour points, drop a reference, compare, download.
// Everything goes to this server's POST /api/colorize (no other site is ever contacted).
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const state = { photo: null, reference: null, points: [], selected: -1, width: 0, height: 0,
                  controller: null, resultUrl: null, photoUrl: null, results: 0, takesHints: true };
  const status = $("status"), frame = $("frame"), after = $("after"), before = $("before");

  function say(text, kind) {
    status.textContent = text;
    status.dataset.state = kind;
  }

  fetch("/api/model").then((r) => r.json()).then((model) => {
    state.takesHints = model.takes_hints;
    $("model").textContent = "model: " + model.family + (model.takes_hints ? " (takes colour points and a reference)"
                                                                          : " (automatic only: no hints)");
    document.body.classList.toggle("no-hints", !model.takes_hints);
  }).catch(() => {});

  function setPhoto(file) {
    if (!file) return;
    state.photo = file;
    state.points = [];
    state.selected = -1;
    if (state.photoUrl) URL.revokeObjectURL(state.photoUrl);
    state.photoUrl = URL.createObjectURL(file);
    const probe = new Image();
    probe.onload = () => {
      state.width = probe.naturalWidth;
      state.height = probe.naturalHeight;
      before.src = state.photoUrl;
      after.src = state.photoUrl;
      frame.hidden = false;
      $("slider-row").hidden = false;
      renderPoints();
      update();
    };
    probe.onerror = () => { state.width = state.height = 0; update(); };  // the server names the problem
    probe.src = state.photoUrl;
  }

  function setReference(file) {
    state.reference = file || null;
    $("reference-box").hidden = !file;
    $("clear-reference").disabled = !file;
    if (file) $("reference-thumb").src = URL.createObjectURL(file);
    if (state.photo) update();
  }

  function hintsJson() {
    return JSON.stringify(state.points.map((p) => ({ x: p.x, y: p.y, color: p.color })));
  }

  async function update() {
    if (!state.photo) return;
    if (state.controller) state.controller.abort();
    const controller = new AbortController();
    state.controller = controller;
    const form = new FormData();
    form.append("image", state.photo, "photo");
    if (state.points.length) form.append("hints", hintsJson());
    if (state.reference) form.append("reference", state.reference, "reference");
    say("colorizing\u2026", "working");
    const started = performance.now();
    try {
      const response = await fetch("/api/colorize", { method: "POST", body: form, signal: controller.signal });
      if (!response.ok) {
        let reason = response.statusText;
        try { reason = (await response.json()).error; } catch (e) { /* not JSON */ }
        say(reason, "error");
        return;
      }
      const blob = await response.blob();
      if (controller !== state.controller) return;  // a newer request is on its way
      if (state.resultUrl) URL.revokeObjectURL(state.resultUrl);
      state.resultUrl = URL.createObjectURL(blob);
      after.src = state.resultUrl;
      const link = $("download");
      link.href = state.resultUrl;
      link.classList.remove("disabled");
      state.results += 1;
      status.dataset.results = String(state.results);
      const points = state.points.length;
      say(`done in ${((performance.now() - started) / 1000).toFixed(2)} s` +
          (points ? ` with ${points} colour point${points > 1 ? "s" : ""}` : "") +
          (state.reference ? " and a reference" : ""), "done");
    } catch (error) {
      if (error.name !== "AbortError") say("the server did not answer (" + error.message + ")", "error");
    }
  }

  function renderPoints() {
    const layer = $("points");
    layer.textContent = "";
    state.points.forEach((point, index) => {
      const dot = document.createElement("div");
      dot.className = "point" + (index === state.selected ? " selected" : "");
      dot.style.left = ((point.x + 0.5) / state.width * 100) + "%";
      dot.style.top = ((point.y + 0.5) / state.height * 100) + "%";
      dot.style.background = point.color;
      dot.dataset.index = String(index);
      dot.title = `(${point.x}, ${point.y}) ${point.color}`;
      layer.appendChild(dot);
    });
    $("delete-point").disabled = state.selected < 0;
    $("clear-points").disabled = state.points.length === 0;
    syncBefore();
  }

  function photoPosition(event) {
    const box = after.getBoundingClientRect();
    const x = Math.floor((event.clientX - box.left) / box.width * state.width);
    const y = Math.floor((event.clientY - box.top) / box.height * state.height);
    return { x: Math.min(Math.max(x, 0), state.width - 1), y: Math.min(Math.max(y, 0), state.height - 1) };
  }

  let drag = null;
  let lastPress = null;
  frame.addEventListener("pointerdown", (event) => {
    if (!state.photo || !state.width || !state.takesHints || event.button !== 0) return;
    const target = event.target.closest(".point");
    const now = performance.now();
    if (target && lastPress && lastPress.index === Number(target.dataset.index) && now - lastPress.time < 450) {
      lastPress = null;  // a double-click on a point removes it (points are redrawn, so no dblclick event)
      removePoint(Number(target.dataset.index));
      event.preventDefault();
      return;
    }
    lastPress = target ? { index: Number(target.dataset.index), time: now } : null;
    if (target) {
      state.selected = Number(target.dataset.index);
      $("colour").value = state.points[state.selected].color;
      drag = { index: state.selected, moved: false };
    } else {
      const at = photoPosition(event);
      state.points.push({ x: at.x, y: at.y, color: $("colour").value });
      state.selected = state.points.length - 1;
      drag = { index: state.selected, moved: true };
    }
    renderPoints();
    event.preventDefault();
  });
  frame.addEventListener("pointermove", (event) => {
    if (!drag) return;
    // Captured only once it moves: a plain click or double-click keeps the point as its target.
    if (!frame.hasPointerCapture(event.pointerId)) frame.setPointerCapture(event.pointerId);
    const at = photoPosition(event);
    const point = state.points[drag.index];
    if (at.x !== point.x || at.y !== point.y) {
      point.x = at.x;
      point.y = at.y;
      drag.moved = true;
      renderPoints();
    }
  });
  frame.addEventListener("pointerup", () => {
    if (drag && drag.moved) update();
    drag = null;
  });

  function removePoint(index) {
    if (index < 0) return;
    state.points.splice(index, 1);
    state.selected = -1;
    renderPoints();
    update();
  }

  $("colour").addEventListener("input", () => {
    if (state.selected < 0) return;
    state.points[state.selected].color = $("colour").value;
    renderPoints();
  });
  $("colour").addEventListener("change", () => { if (state.selected >= 0) update(); });
  $("delete-point").addEventListener("click", () => removePoint(state.selected));
  $("clear-points").addEventListener("click", () => { state.points = []; state.selected = -1; renderPoints(); update(); });
  document.addEventListener("keydown", (event) => {
    if ((event.key === "Delete" || event.key === "Backspace") && state.selected >= 0 &&
        document.activeElement.tagName !== "INPUT") removePoint(state.selected);
  });

  $("photo-input").addEventListener("change", (event) => setPhoto(event.target.files[0]));
  $("reference-input").addEventListener("change", (event) => setReference(event.target.files[0]));
  $("clear-reference").addEventListener("click", () => { $("reference-input").value = ""; setReference(null); });

  // Drops: on the reference button (or with Shift) a reference, anywhere else the photo.
  document.addEventListener("dragover", (event) => { event.preventDefault(); $("stage").classList.add("dragging"); });
  document.addEventListener("dragleave", () => $("stage").classList.remove("dragging"));
  document.addEventListener("drop", (event) => {
    event.preventDefault();
    $("stage").classList.remove("dragging");
    const file = event.dataTransfer.files[0];
    if (!file) return;
    const onReference = event.target.closest && event.target.closest("#reference-drop, #reference-box");
    if ((onReference || event.shiftKey) && state.takesHints) setReference(file); else setPhoto(file);
  });

  function syncBefore() {
    before.style.width = after.clientWidth + "px";
    before.style.height = after.clientHeight + "px";
    $("before-clip").style.width = $("slider").value + "%";
  }
  $("slider").addEventListener("input", syncBefore);
  after.addEventListener("load", syncBefore);
  window.addEventListener("resize", syncBefore);

  // For scripts and tests: the page's points and state.
  window.colorizePage = { state, update, hintsJson };
})();
