// A minimal SPA on authapi: the API is proxied on this page's origin (vite.config.js),
// so the client's base URL is '' and the refresh cookie (SameSite=Strict, Path=/auth)
// is a first-party cookie of this origin.
import { AuthClient, AuthError } from '@authapi/client';

const auth = new AuthClient({ baseUrl: '' });
const $ = (id) => document.getElementById(id);
const forms = { signIn: $('sign-in'), mfa: $('mfa'), register: $('register') };
let mfaToken = null;

function say(text) {
  $('status').textContent = text;
}

function describe(error) {
  if (!(error instanceof AuthError)) return String(error);
  if (error.code === 'email_not_verified') return 'Confirm your email first: follow the link we sent.';
  if (error.code === 'rate_limited' && error.retryAfter !== null) {
    return `Too many attempts; try again in ${Math.ceil(error.retryAfter)} s.`;
  }
  return `${error.message} (${error.code})`;
}

function showSignedOut(message = '') {
  mfaToken = null;
  $('signed-in').hidden = true;
  $('signed-out').hidden = false;
  forms.signIn.hidden = false;
  forms.mfa.hidden = true;
  say(message);
}

function showMfa(token) {
  mfaToken = token;
  $('signed-in').hidden = true;
  $('signed-out').hidden = false;
  forms.signIn.hidden = true;
  forms.mfa.hidden = false;
  forms.mfa.reset();
  $('mfa-code').focus();
}

async function showSignedIn() {
  const response = await auth.fetch('/users/me');
  if (!auth.isSignedIn) return; // signed out while the request was out
  if (!response.ok) {
    say(`GET /users/me answered ${response.status}`);
    return;
  }
  const me = await response.json();
  $('me-email').textContent = me.email;
  $('signed-out').hidden = true;
  $('signed-in').hidden = false;
  for (const form of Object.values(forms)) form.reset();
}

// Every tab of this browser hears about sign-ins and sign-outs (the client's channel).
auth.on((event) => {
  if (event.type === 'signedIn') {
    showSignedIn().catch((error) => say(describe(error)));
  } else if (event.type === 'signedOut') {
    const why = { signOut: 'Signed out.', otherTab: 'Signed out in another tab.' };
    showSignedOut(why[event.reason] ?? `Your session ended (${event.reason}).`);
  }
});

// A form's submit handler: buttons disabled while the request is out, errors shown.
function onSubmit(form, handler) {
  form.addEventListener('submit', async (submitted) => {
    submitted.preventDefault();
    say('');
    const buttons = form.querySelectorAll('button');
    buttons.forEach((button) => (button.disabled = true));
    try {
      await handler(new FormData(form));
    } catch (error) {
      say(describe(error));
    } finally {
      buttons.forEach((button) => (button.disabled = false));
    }
  });
}

onSubmit(forms.signIn, async (data) => {
  const result = await auth.signIn(data.get('email'), data.get('password'));
  if (result.status === 'mfaRequired') showMfa(result.mfaToken);
});

onSubmit(forms.mfa, async (data) => {
  try {
    await auth.completeMfa(mfaToken, data.get('code').trim());
  } catch (error) {
    // a spent or expired challenge: start again from the password
    if (error instanceof AuthError && error.code === 'invalid_mfa_token') showSignedOut();
    throw error;
  }
});

$('mfa-cancel').addEventListener('click', () => showSignedOut());

// Provider buttons, one per provider the API offers: the provider sends the browser
// back to this page (on AUTHAPI_ALLOWED_REDIRECTS), where start() reads the result.
async function providerButtons() {
  for (const provider of await auth.providers()) {
    const button = Object.assign(document.createElement('button'), { type: 'button' });
    button.textContent = `Sign in with ${provider.display_name}`;
    button.addEventListener('click', () => auth.startProviderSignIn(provider.name, `${location.origin}/`));
    forms.signIn.append(button);
  }
}

onSubmit(forms.register, async (data) => {
  await auth.register(data.get('email'), data.get('password'));
  forms.register.reset();
  say('Check your inbox for the confirmation link, then sign in.');
});

$('sign-out').addEventListener('click', () => auth.signOut());

// On load: back from a provider (?error=, ?linked=, #mfa_token=), or a session from the cookie.
async function start() {
  const url = new URL(location.href);
  const fromProvider =
    url.searchParams.has('error') || url.searchParams.has('linked') || url.hash.includes('mfa_token=');
  if (fromProvider) {
    const back = await auth.providerReturn(url);
    // the mfa_token must not stay in the address bar or the history
    history.replaceState(null, '', url.pathname);
    if (back.status === 'mfaRequired') return showMfa(back.mfaToken);
    if (back.status === 'error') say(`Provider sign-in failed: ${back.code}`);
    if (back.status === 'linked') say(`Linked ${back.provider}.`);
  }
  if (!(await auth.restore())) showSignedOut($('status').textContent);
}

providerButtons().catch((error) => say(describe(error)));
start().catch((error) => {
  showSignedOut(describe(error));
});
