// The built-in account pages: one module for all of them, on the JavaScript client.
// A page's token (from an emailed link) is posted only when the user asks: link
// scanners open every link in a mail, and opening must not spend it.
import { AuthClient } from '../client/index.js';

// the API serves these pages one level below its own base
const auth = new AuthClient({ baseUrl: new URL('..', window.location.href).href });
const status = document.getElementById('status');
const token = new URLSearchParams(window.location.search).get('token');

function say(text, kind = 'info') {
  status.textContent = text;
  status.dataset.kind = kind;
}

function failed(error) {
  say(error && error.message ? error.message : 'Something went wrong; try again.', 'error');
}

/** Run `action` when `form` is submitted, with its button disabled meanwhile. */
function onSubmit(form, action) {
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const button = form.querySelector('button');
    button.disabled = true;
    try {
      await action(new FormData(form));
    } catch (error) {
      failed(error);
    } finally {
      button.disabled = false;
    }
  });
}

function needsToken() {
  if (token) return true;
  say('This page needs the link from your email (it carries a one-time token).', 'error');
  for (const button of document.querySelectorAll('form button')) button.disabled = true;
  return false;
}

const pages = {
  'sign-in'() {
    const signIn = document.getElementById('sign-in');
    const mfa = document.getElementById('mfa');
    let mfaToken = null;
    onSubmit(signIn, async (data) => {
      const result = await auth.signIn(data.get('email'), data.get('password'));
      if (result.status === 'mfaRequired') {
        mfaToken = result.mfaToken;
        signIn.hidden = true;
        mfa.hidden = false;
        say('Enter the code from your authenticator app.');
        document.getElementById('code').focus();
        return;
      }
      window.location.assign('./');
    });
    onSubmit(mfa, async (data) => {
      await auth.completeMfa(mfaToken, String(data.get('code')).trim());
      window.location.assign('./');
    });
  },
  'sign-up'() {
    onSubmit(document.getElementById('sign-up'), async (data) => {
      await auth.register(data.get('email'), data.get('password'));
      say('Check your email: we sent a link to confirm the address.', 'success');
    });
  },
  'verify-email'() {
    if (!needsToken()) return;
    onSubmit(document.getElementById('verify-email'), async () => {
      await auth.verifyEmail(token);
      say('Your address is confirmed. You can sign in now.', 'success');
    });
  },
  'forgot-password'() {
    onSubmit(document.getElementById('forgot-password'), async (data) => {
      await auth.forgotPassword(data.get('email'));
      say('If this address has an account, we sent it a link to choose a new password.', 'success');
    });
  },
  'reset-password'() {
    if (!needsToken()) return;
    onSubmit(document.getElementById('reset-password'), async (data) => {
      await auth.resetPassword(token, data.get('new-password'));
      say('Your password is changed, and every session was signed out. Sign in again.', 'success');
    });
  },
  async account() {
    auth.on((event) => {
      if (event.type === 'signedOut') window.location.assign('sign-in');
    });
    if (!(await auth.restore())) {
      window.location.assign('sign-in');
      return;
    }
    const response = await auth.fetch(new URL('../users/me', window.location.href));
    if (!response.ok) {
      say('Your account could not be read; try again.', 'error');
      return;
    }
    const me = await response.json();
    document.getElementById('who').textContent = me.email;
    document.getElementById('profile').hidden = false;
    document.getElementById('sign-out').addEventListener('click', () => auth.signOut());
    document
      .getElementById('sign-out-everywhere')
      .addEventListener('click', () => auth.signOutEverywhere().catch(failed));
  },
};

const page = pages[document.body.dataset.page];
if (page) Promise.resolve(page()).catch(failed);
