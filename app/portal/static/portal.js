// 自定义工作台: "上移/下移" move a widget's row and renumber the order fields, so the form
// submits the order the user sees. Without this script the order numbers work on their own.
(function () {
  "use strict";
  const list = document.getElementById("layout-list");
  if (!list) return;

  function renumber() {
    list.querySelectorAll(".layout-item").forEach(function (item, index) {
      const input = item.querySelector("input[type=number]");
      if (input) input.value = String(index + 1);
    });
  }

  list.addEventListener("click", function (event) {
    const button = event.target.closest("button[data-move]");
    if (!button) return;
    const item = button.closest(".layout-item");
    if (button.dataset.move === "up" && item.previousElementSibling) {
      list.insertBefore(item, item.previousElementSibling);
    } else if (button.dataset.move === "down" && item.nextElementSibling) {
      list.insertBefore(item.nextElementSibling, item);
    }
    renumber();
    button.focus();
  });
})();
