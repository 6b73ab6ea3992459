// A button with data-print prints the page (the recovery sheet). (A separate file: the CSP allows
// no inline scripts.)
document.addEventListener('click', (event) => {
  const button = event.target instanceof Element ? event.target.closest('[data-print]') : null;
  if (button) window.print();
});
