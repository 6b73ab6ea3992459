// Submits the single sign-on form to the identity provider (SAML HTTP-POST binding) at once;
// without scripts the person presses Continue.
document.getElementById('sso-post')?.submit();
