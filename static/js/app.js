// Confirmation before destructive actions: <form data-confirm="确定要……吗？">
document.addEventListener("submit", function (event) {
  var form = event.target;
  var message = form.getAttribute("data-confirm");
  if (message && !window.confirm(message)) {
    event.preventDefault();
  }
  if (!event.defaultPrevented) {
    // one submission per click: a double click must not post twice
    form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
  }
}, true);
