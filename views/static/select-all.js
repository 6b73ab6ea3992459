// "Select all on this page" for tables of checkboxes: a checkbox with data-select-all="<name>"
// ticks or clears every checkbox of that name in its table. Delegated, so rows swapped in by htmx
// are covered too. (A separate file: the CSP allows no inline scripts.)
document.addEventListener('change', (event) => {
  const box = event.target;
  if (!(box instanceof HTMLInputElement) || !box.dataset.selectAll) return;
  const table = box.closest('table');
  if (!table) return;
  for (const input of table.querySelectorAll(`input[type="checkbox"][name="${box.dataset.selectAll}"]`)) {
    input.checked = box.checked;
  }
});
