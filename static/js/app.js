// Confirmation before destructive actions: <form data-confirm="确定要……吗？">
document.addEventListener("submit", function (event) {
  var form = event.target;
  var message = form.getAttribute("data-confirm");
  if (message && !window.confirm(message)) {
    event.preventDefault();
    return;
  }
  if (event.defaultPrevented) {
    return;
  }
  // one submission per click: a double click must not post twice
  if (form.getAttribute("data-submitted")) {
    event.preventDefault();
    return;
  }
  form.setAttribute("data-submitted", "1");
  // disable the buttons only after the browser has collected the form data: a button disabled
  // now would drop its own name=value (then=submit, decision=publish) from the submission
  window.setTimeout(function () {
    form.querySelectorAll("button:not([type]), button[type=submit], input[type=submit]").forEach(function (b) {
      b.disabled = true;
    });
  }, 0);
}, true);

// a page restored from the back-forward cache can be submitted again
window.addEventListener("pageshow", function (event) {
  if (!event.persisted) {
    return;
  }
  document.querySelectorAll("form[data-submitted]").forEach(function (form) {
    form.removeAttribute("data-submitted");
    form.querySelectorAll("button, input[type=submit]").forEach(function (b) { b.disabled = false; });
  });
});
