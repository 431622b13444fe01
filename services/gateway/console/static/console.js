// helploop console: keyboard shortcuts on the review queue (c confirm, 1-3 pick, s skip, j/k move).
(function () {
  "use strict";
  function items() { return Array.prototype.slice.call(document.querySelectorAll(".review-item")); }
  function current() { return document.querySelector(".review-item.current"); }
  function move(step) {
    var all = items(), here = all.indexOf(current()), next = all[here + step];
    if (!next) { return; }
    all.forEach(function (item) { item.classList.remove("current"); });
    next.classList.add("current");
    next.scrollIntoView({ block: "nearest" });
  }
  document.addEventListener("keydown", function (event) {
    var tag = (event.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea" || tag === "select" || event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (event.key === "j") { move(1); return; }
    if (event.key === "k") { move(-1); return; }
    var item = current();
    if (!item) { return; }
    var button = item.querySelector('button[data-key="' + event.key + '"]');
    if (button) { event.preventDefault(); button.click(); }
  });
}());
