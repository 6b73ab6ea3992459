// Account pickers (views/partials/account-picker.njk): choosing an option from the type-ahead
// puts its id in the hidden `account` field and its name in the search box, then submits the
// filter form. Typing in the search box alone filters nothing, so its own change is kept from
// the form. Delegated, so pickers swapped in by htmx work too. (A file: the CSP allows no inline scripts.)
document.addEventListener(
  'change',
  (event) => {
    if (event.target instanceof HTMLElement && event.target.matches('[data-account-search]')) event.stopPropagation();
  },
  true,
);
document.addEventListener('click', (event) => {
  const option = event.target instanceof Element ? event.target.closest('[data-account-id]') : null;
  const picker = option?.closest('[data-account-picker]');
  if (!option || !picker) return;
  const hidden = picker.querySelector('input[name="account"]');
  const search = picker.querySelector('[data-account-search]');
  const list = picker.querySelector('[role="listbox"]');
  if (hidden) hidden.value = option.dataset.accountId ?? '';
  if (search) search.value = option.dataset.accountName ?? '';
  if (list) list.replaceChildren();
  picker.closest('form')?.requestSubmit();
});
