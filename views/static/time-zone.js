// Tells the appliance the browser's time zone, so that pages render times in it (the next page
// on; until then times show in UTC). A cookie, not a query parameter: every request carries it.
(() => {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (!zone) return;
  const current = document.cookie.split('; ').find((c) => c.startsWith('holdfast_tz='));
  if (current === `holdfast_tz=${encodeURIComponent(zone)}`) return;
  // biome-ignore lint/suspicious/noDocumentCookie: the Cookie Store API is not in every browser yet.
  document.cookie = `holdfast_tz=${encodeURIComponent(zone)}; path=/; max-age=31536000; samesite=lax`;
})();
