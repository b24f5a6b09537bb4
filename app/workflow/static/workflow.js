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

// 人员选择：边输入边在通讯录里搜索（/api/addressbook），不再把全局人员渲染进页面。
// 键盘：↑ ↓ 移动，回车选中，Esc 关闭；已选人员各带一个隐藏字段，服务器照旧校验。
(function () {
  "use strict";
  const DELAY_MS = 200;
  const PER_PAGE = 20;

  function setup(picker) {
    const input = picker.querySelector("input[role=combobox]");
    const list = picker.querySelector("[role=listbox]");
    const picked = picker.querySelector(".picked");
    const status = picker.querySelector(".picker-status");
    const multiple = picker.dataset.multiple === "1";
    let active = -1;
    let timer = 0;
    let latest = 0;

    function options() { return Array.from(list.querySelectorAll("[role=option]")); }

    function close() {
      list.hidden = true;
      list.replaceChildren();
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function highlight(index) {
      const all = options();
      if (!all.length) return;
      active = (index + all.length) % all.length;
      all.forEach((li, i) => li.setAttribute("aria-selected", i === active ? "true" : "false"));
      input.setAttribute("aria-activedescendant", all[active].id);
      all[active].scrollIntoView({ block: "nearest" });
    }

    function chosenIds() {
      return Array.from(picked.querySelectorAll("input[type=hidden]")).map((i) => i.value);
    }

    function choose(li) {
      if (!multiple) picked.replaceChildren();
      if (!chosenIds().includes(li.dataset.id)) {
        const chip = document.createElement("li");
        chip.className = "chip";
        chip.textContent = li.dataset.label;
        const hidden = document.createElement("input");
        hidden.type = "hidden";
        hidden.name = picker.dataset.name;
        hidden.value = li.dataset.id;
        const remove = document.createElement("button");
        remove.type = "button";
        remove.className = "chip-remove";
        remove.textContent = "×";
        remove.setAttribute("aria-label", "移除 " + li.dataset.label);
        chip.append(hidden, remove);
        picked.append(chip);
      }
      status.textContent = "已选：" + Array.from(picked.querySelectorAll(".chip"))
        .map((c) => c.firstChild.textContent).join("、");
      input.value = "";
      close();
      input.focus();
    }

    function render(items, query) {
      list.replaceChildren();
      active = -1;
      items.forEach((item, i) => {
        const li = document.createElement("li");
        li.id = input.id + "-opt-" + i;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        li.dataset.id = String(item.id);
        li.dataset.label = item.name;
        const name = document.createElement("strong");
        name.textContent = item.name;
        const where = document.createElement("span");
        where.className = "muted";
        where.textContent = [item.department, item.position].filter(Boolean).join(" · ");
        li.append(name, " ", where);
        list.append(li);
      });
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
      status.textContent = items.length ? "找到 " + items.length + " 人" +
        (items.length >= PER_PAGE ? "（只显示前 " + PER_PAGE + " 人，请输入更多字缩小范围）" : "")
        : "没有找到“" + query + "”";
      if (items.length) highlight(0);
    }

    async function search() {
      const query = input.value.trim();
      const ticket = ++latest;
      if (!query) { close(); return; }
      const url = "/api/addressbook?per_page=" + PER_PAGE + "&q=" + encodeURIComponent(query);
      try {
        const response = await fetch(url, { credentials: "same-origin",
                                             headers: { Accept: "application/json" } });
        const body = await response.json();
        if (ticket !== latest) return; // an older answer arriving after a newer question
        if (!response.ok) throw new Error((body.error && body.error.message) || "查询失败");
        render(body.items || [], query);
      } catch (error) {
        if (ticket === latest) status.textContent = "人员查询失败：" + error.message;
      }
    }

    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(search, DELAY_MS);
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        if (list.hidden) { search(); return; }
        highlight(active + (event.key === "ArrowDown" ? 1 : -1));
      } else if (event.key === "Enter") {
        event.preventDefault(); // never submit the form half-chosen
        const all = options();
        if (!list.hidden && active >= 0 && all[active]) choose(all[active]);
      } else if (event.key === "Escape") {
        close();
      }
    });
    list.addEventListener("mousedown", (event) => event.preventDefault()); // keep the focus
    list.addEventListener("click", (event) => {
      const li = event.target.closest("[role=option]");
      if (li) choose(li);
    });
    picked.addEventListener("click", (event) => {
      const button = event.target.closest(".chip-remove");
      if (!button) return;
      button.closest(".chip").remove();
      status.textContent = chosenIds().length ? "" : "已清空";
      input.focus();
    });
    input.addEventListener("blur", () => setTimeout(close, 150));
    picker.closest("form").addEventListener("submit", (event) => {
      if (picker.dataset.required === "1" && !chosenIds().length) {
        event.preventDefault();
        event.stopImmediatePropagation();
        status.textContent = "请先选择人员";
        input.setAttribute("aria-invalid", "true");
        input.focus();
      }
    });
  }

  document.querySelectorAll(".user-picker").forEach(setup);
})();
