// 常用意见: clicking a phrase puts it into the comment box of the same form.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    const button = event.target.closest("button[data-phrase]");
    if (!button) return;
    event.preventDefault();
    const box = document.getElementById(button.dataset.target || "comment");
    if (!box) return;
    box.value = box.value ? box.value + button.dataset.phrase : button.dataset.phrase;
    box.focus();
  });
})();
