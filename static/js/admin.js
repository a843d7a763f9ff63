// 系统管理: on the new-account form, show only the inputs the chosen role uses (data-roles="official broker").
(function () {
  var form = document.getElementById("user-form");
  var role = form && form.querySelector("select[name=role]");
  if (!role) { return; }
  function sync() {
    form.querySelectorAll("[data-roles]").forEach(function (box) {
      var wanted = box.getAttribute("data-roles").split(" ");
      box.classList.toggle("d-none", wanted.indexOf(role.value) === -1);
    });
  }
  role.addEventListener("change", sync);
  sync();
})();
