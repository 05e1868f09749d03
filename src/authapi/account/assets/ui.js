// What every page does with its forms: say what happened in words, in the status
// line of the form's own section (or the page's), and keep a form from being sent twice.

const pageStatus = () => document.getElementById('status');

/** The status line that speaks for `element`: its section's, else the page's. */
export function statusFor(element) {
  return element?.closest('section')?.querySelector('.status') ?? pageStatus();
}

export function say(text, kind = 'info', where = null) {
  const status = where ?? pageStatus();
  status.textContent = text;
  status.dataset.kind = kind;
}

// what the browser's refusals of a passkey request mean, in words (its own messages are
// written for developers); the API's refusals come with words of their own
const PASSKEY_REFUSALS = {
  NotAllowedError: 'The passkey request was cancelled or timed out.',
  InvalidStateError: 'This device already has a passkey for this account.',
  NotSupportedError: 'This browser cannot use passkeys here.',
  SecurityError: 'This page cannot use passkeys: its address is not the one they belong to.',
};

export function failed(error, where = null) {
  const refusal = error instanceof DOMException ? PASSKEY_REFUSALS[error.name] : undefined;
  const words = refusal ?? (error && error.message ? error.message : null);
  say(words ?? 'Something went wrong; try again.', 'error', where);
}

/** Run `action()` with `button` disabled meanwhile; its outcome is said in `status`. */
async function busy(button, status, action) {
  button.disabled = true;
  try {
    const done = await action();
    if (typeof done === 'string') say(done, 'success', status);
  } catch (error) {
    failed(error, status);
  } finally {
    button.disabled = false;
  }
}

/**
 * Run `action(data, form)` when `form` is submitted, its button disabled meanwhile; a
 * failure is said in the form's status line, and so is the sentence `action` may return.
 */
export function onSubmit(form, action) {
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(form.querySelector('button'), statusFor(form), () => action(new FormData(form), form));
  });
}

/** The same for a button outside a form. */
export function onClick(button, action) {
  button.addEventListener('click', () => busy(button, statusFor(button), action));
}

/** A new element with text (never HTML: what the API returns is shown as text). */
export function element(tag, text = '', attributes = {}) {
  const node = document.createElement(tag);
  node.textContent = text;
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

/**
 * Whether passkeys can work on this page: the browser has WebAuthn here, and the page's
 * host is a name. A passkey belongs to a domain, never to an IP address (browsers refuse
 * one, and the API turns passkeys off when its public URL, where these pages are, has one).
 */
export function passkeysHere(auth) {
  return auth.passkeysSupported() && !onIpAddress();
}

export function onIpAddress() {
  const host = window.location.hostname;
  return host.startsWith('[') || /^[0-9.]+$/.test(host);
}

export function when(isoTime) {
  return isoTime ? new Date(isoTime).toLocaleString() : '';
}

// what a provider sign-in's `?error=<code>` means, in words
const PROVIDER_PROBLEMS = {
  access_denied: 'The sign-in at the provider was cancelled.',
  provider_error: 'The provider could not sign you in; try again.',
  invalid_id_token: "The provider's answer could not be trusted; try again.",
  email_not_verified: 'The provider has not confirmed your email address.',
  account_exists:
    'An account with this email address exists. Sign in with its password, then link the provider from your account page.',
  account_disabled: 'This account is disabled.',
  sign_in_interrupted: 'The account changed during the sign-in; start again.',
  identity_in_use: 'That provider account is already linked to another account.',
  not_signed_in: 'Sign in first, then link the provider.',
};

export function providerProblem(code) {
  return PROVIDER_PROBLEMS[code] ?? `The provider sign-in did not finish (${code}).`;
}
