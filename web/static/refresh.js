// Reloads a page that shows something still changing (a run that has not
// finished), every data-refresh milliseconds, keeping the scroll position.
// It stays out of the way while the reader selects text.
(function () {
  "use strict";
  var ms = parseInt(document.body.getAttribute("data-refresh"), 10);
  if (!(ms > 0)) {
    return;
  }
  var key = "greenlight-scroll:" + location.pathname;
  var saved = sessionStorage.getItem(key);
  if (saved !== null) {
    window.scrollTo(0, parseInt(saved, 10) || 0);
    sessionStorage.removeItem(key);
  }
  function tick() {
    var sel = window.getSelection && window.getSelection();
    if (sel && String(sel).length > 0) {
      setTimeout(tick, ms);
      return;
    }
    sessionStorage.setItem(key, String(window.scrollY));
    location.reload();
  }
  setTimeout(tick, ms);
})();
