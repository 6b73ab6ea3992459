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
// A grant's accounts (views/partials/grant-fields.njk): a ticked match joins the chosen list, so
// the next search does not take it away; Enter in a search box never submits the whole form.
document.addEventListener('change', (event) => {
  const box = event.target;
  if (!(box instanceof HTMLInputElement) || !box.checked) return;
  const option = box.closest('[data-grant-option]');
  const chosen = option?.closest('form')?.querySelector('#grant-accounts-chosen');
  if (!option || !chosen) return;
  if (chosen.querySelector(`input[name="accounts"][value="${CSS.escape(box.value)}"]`)) {
    option.closest('li')?.remove();
    return;
  }
  option.removeAttribute('data-grant-option');
  const item = option.closest('li');
  chosen.append(option);
  item?.remove();
});
document.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && event.target instanceof HTMLElement && event.target.matches('[data-account-search]')) {
    event.preventDefault();
  }
});
