// Ferry console: small progressive enhancements (no library). Inline scripts are blocked by the CSP.
document.addEventListener("DOMContentLoaded", () => {
  // "select all" checkbox of the records table
  document.querySelectorAll("input[data-select-all]").forEach((box) => {
    box.addEventListener("change", () => {
      document.querySelectorAll("input[name=sel]").forEach((cb) => { cb.checked = box.checked; });
    });
  });
  // confirm() before forms that say so
  document.querySelectorAll("form[data-confirm], button[data-confirm]").forEach((el) => {
    el.addEventListener(el.tagName === "FORM" ? "submit" : "click", (event) => {
      if (!window.confirm(el.dataset.confirm)) { event.preventDefault(); }
    });
  });
  // pages that show a running scheme refresh themselves until it is done
  const refresh = document.querySelector("meta[name=ferry-refresh]");
  if (refresh) { setTimeout(() => window.location.reload(), Number(refresh.content) * 1000); }
});
