// The built-in account pages: one entry module for all of them, on the JavaScript client.
// A page's token (from an emailed link) is posted only when the user asks: link
// scanners open every link in a mail, and opening must not spend it.
import { AuthClient } from '../client/index.js';
import { accountPage } from './account.js';
import { element, failed, onClick, onSubmit, passkeysHere, providerProblem, say } from './ui.js';

// the API serves these pages one level below its own base
const auth = new AuthClient({ baseUrl: new URL('..', window.location.href).href });
const token = new URLSearchParams(window.location.search).get('token');

function needsToken() {
  if (token) return true;
  say('This page needs the link from your email (it carries a one-time token).', 'error');
  for (const button of document.querySelectorAll('form button')) button.disabled = true;
  return false;
}

async function providerButtons(returnTo) {
  const providers = await auth.providers();
  document.getElementById('providers').replaceChildren(
    ...providers.map((provider) => {
      const button = element('button', `Sign in with ${provider.display_name}`, { type: 'button' });
      button.addEventListener('click', () => auth.startProviderSignIn(provider.name, returnTo));
      return button;
    }),
  );
}

const pages = {
  async 'sign-in'() {
    const $ = (id) => document.getElementById(id);
    const signIn = $('sign-in');
    const mfa = $('mfa');
    const passkeys = passkeysHere(auth);
    let mfaToken = null;
    let autofill = null; // the passkey request the email field's autofill offers, while it waits

    /** Offer passkeys in the email field's suggestions (`autocomplete="username webauthn"`). */
    function offerPasskeys() {
      if (!passkeys) return;
      const abort = new AbortController();
      const offer = async () => {
        if (!(await auth.conditionalMediationAvailable()) || abort.signal.aborted) return;
        await auth.signInWithPasskey({ mediation: 'conditional', signal: abort.signal });
        window.location.assign('./');
      };
      const done = offer().catch((error) => {
        if (abort.signal.aborted) return; // a button's request took its place
        if (error.code === 'passkeys_off') {
          $('passkey').hidden = true; // this service has none (its settings say why)
          return;
        }
        failed(error);
        // the page stood open longer than the challenge lives: a fresh one for the next pick
        if (error.code === 'invalid_passkey_challenge') offerPasskeys();
      });
      autofill = { abort, done }; // at once: a click from now on aborts it first
    }
    /** The browser takes one passkey request at a time: a button's comes after this. */
    async function stopOffering() {
      const running = autofill;
      autofill = null;
      if (running === null) return;
      running.abort.abort();
      await running.done;
    }

    function askForCode(step) {
      stopOffering().catch(failed);
      mfaToken = step.mfaToken;
      signIn.hidden = true;
      $('providers').hidden = true;
      $('passkey').hidden = true;
      mfa.hidden = false;
      $('mfa-passkey').hidden = !passkeys;
      say('Enter the code from your authenticator app.');
      $('code').focus();
    }
    onSubmit(signIn, async (data) => {
      const result = await auth.signIn(data.get('email'), data.get('password'));
      if (result.status === 'mfaRequired') askForCode(result);
      else window.location.assign('./');
    });
    onSubmit(mfa, async (data) => {
      await auth.completeMfa(mfaToken, String(data.get('code')).trim());
      window.location.assign('./');
    });
    onClick($('passkey-sign-in'), async () => {
      await stopOffering();
      try {
        await auth.signInWithPasskey(); // any passkey of this site the device has
      } catch (error) {
        offerPasskeys();
        throw error;
      }
      window.location.assign('./');
    });
    onClick($('mfa-use-passkey'), async () => {
      await auth.signInWithPasskey({ mfaToken });
      window.location.assign('./');
    });
    const here = window.location.href.split(/[?#]/)[0];
    providerButtons(here).catch(failed);
    // back from a provider (?error=, #mfa_token=), or already signed in (the cookie)
    const returned = await auth.providerReturn(window.location.href);
    if (window.location.search || window.location.hash) window.history.replaceState(null, '', here);
    if (returned.status === 'signedIn') window.location.assign('./');
    else if (returned.status === 'mfaRequired') askForCode(returned);
    else {
      if (returned.status === 'error') say(providerProblem(returned.code), 'error');
      $('passkey').hidden = !passkeys;
      offerPasskeys();
    }
  },
  'sign-up'() {
    onSubmit(document.getElementById('sign-up'), async (data) => {
      await auth.register(data.get('email'), data.get('password'));
      return 'Check your email: we sent a link to confirm the address.';
    });
  },
  'verify-email'() {
    if (!needsToken()) return;
    onSubmit(document.getElementById('verify-email'), async () => {
      await auth.verifyEmail(token);
      return 'Your address is confirmed. You can sign in now.';
    });
  },
  'forgot-password'() {
    onSubmit(document.getElementById('forgot-password'), async (data) => {
      await auth.forgotPassword(data.get('email'));
      return 'If this address has an account, we sent it a link to choose a new password.';
    });
  },
  'reset-password'() {
    if (!needsToken()) return;
    onSubmit(document.getElementById('reset-password'), async (data) => {
      await auth.resetPassword(token, data.get('new-password'));
      return 'Your password is changed, and every session was signed out. Sign in again.';
    });
  },
  account: () => accountPage(auth),
};

const page = pages[document.body.dataset.page];
if (page) Promise.resolve(page()).catch(failed);
