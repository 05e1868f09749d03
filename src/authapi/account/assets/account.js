// The account page: profile, password and email changes, passkeys, two-factor enrolment
// (QR code and recovery codes), the sessions with a sign-out per device, linked providers
// and the security activity. Everything it shows comes from the API as text, never as HTML.
import {
  element,
  failed,
  onClick,
  onIpAddress,
  onSubmit,
  providerProblem,
  say,
  statusFor,
  when,
} from './ui.js';

const $ = (id) => document.getElementById(id);

const EVENTS = {
  user_registered: 'Account created',
  register_existing_email: 'Someone tried to register this address again',
  email_verified: 'Email address confirmed',
  login_succeeded: 'Signed in',
  login_failed: 'Failed sign-in',
  password_check_failed: 'Wrong password given while signed in',
  refresh_token_reused: 'A stolen session token was detected: that session was ended',
  logout: 'Signed out',
  logout_all: 'Signed out everywhere',
  session_revoked: 'A device was signed out',
  password_rehashed: 'Password storage upgraded',
  password_reset_requested: 'Password reset requested',
  password_reset: 'Password reset',
  password_changed: 'Password changed',
  email_change_requested: 'Email change requested',
  email_changed: 'Email address changed',
  mfa_setup_started: 'Two-factor setup started',
  mfa_enabled: 'Two-factor authentication turned on',
  mfa_disabled: 'Two-factor authentication turned off',
  mfa_reset: 'Two-factor authentication reset by an administrator',
  mfa_challenged: 'Asked for a two-factor code',
  mfa_failed: 'Wrong two-factor code',
  recovery_codes_regenerated: 'New recovery codes made',
  recovery_code_used: 'A recovery code was used',
  identity_linked: 'Provider linked',
  identity_unlinked: 'Provider unlinked',
  passkey_added: 'Passkey added',
  passkey_renamed: 'Passkey renamed',
  passkey_removed: 'Passkey removed',
  passkey_used: 'Passkey used',
  passkey_refused: 'A passkey was refused: it may have been copied',
  account_disabled: 'Account disabled by an administrator',
  account_enabled: 'Account enabled by an administrator',
  sessions_revoked: 'Every session ended by an administrator',
};

const BROWSERS = [[/Edg\//, 'Edge'], [/Firefox\//, 'Firefox'], [/Chrom(e|ium)\//, 'Chrome'], [/Safari\//, 'Safari']];
const SYSTEMS = [[/Android/, 'Android'], [/iPhone|iPad/, 'iOS'], [/Windows/, 'Windows'], [/Mac OS X/, 'macOS'], [/Linux/, 'Linux']];
const first = (pairs, text) => pairs.find(([pattern]) => pattern.test(text))?.[1] ?? null;

/** "Chrome on Linux", from a User-Agent header (what a person recognises). */
function device(userAgent) {
  if (!userAgent) return 'An unknown device';
  const browser = first(BROWSERS, userAgent);
  const system = first(SYSTEMS, userAgent);
  if (browser && system) return `${browser} on ${system}`;
  return browser ?? system ?? userAgent.slice(0, 60);
}

export async function accountPage(auth) {
  auth.on((event) => {
    if (event.type === 'signedOut') window.location.assign('sign-in');
  });
  // back from linking a provider: ?linked=<name> or ?error=<code>
  const returned = await auth.providerReturn(window.location.href);
  if (window.location.search || window.location.hash) {
    window.history.replaceState(null, '', window.location.pathname);
  }
  if (!(await auth.restore())) {
    window.location.assign('sign-in');
    return;
  }
  let hasPassword = true;
  let olderThan = null;
  // a passkey belongs to a domain name: on an IP address the API has them off
  const passkeysOn = !onIpAddress();

  async function loadProfile() {
    const me = await auth.call('GET', '/users/me');
    hasPassword = me.has_password;
    $('who').textContent = me.email;
    $('verified').textContent = me.email_verified ? 'confirmed' : 'not confirmed yet';
    $('since').textContent = when(me.created_at);
    $('no-password').hidden = hasPassword;
    $('change-password').hidden = !hasPassword;
    for (const field of document.querySelectorAll('[data-needs-password]')) {
      field.hidden = !hasPassword;
      if (field.tagName === 'INPUT') {
        field.disabled = !hasPassword;
        field.required = hasPassword;
      }
    }
  }

  async function loadMfa() {
    const mfa = await auth.call('GET', '/auth/mfa');
    const enrolling = !$('totp-confirm').hidden;
    $('mfa-state').textContent = mfa.totp_enabled
      ? `On: signing in asks for a code from your authenticator app. Recovery codes left: ${mfa.recovery_codes_remaining}.`
      : 'Off: your password alone signs you in.';
    $('totp-start').hidden = mfa.totp_enabled || enrolling;
    $('totp-disable').hidden = !mfa.totp_enabled;
    $('recovery-regenerate').hidden = !mfa.totp_enabled;
  }

  async function loadSessions() {
    const { sessions } = await auth.call('GET', '/auth/sessions');
    $('sessions').replaceChildren(
      ...sessions.map((session) => {
        const item = element('li');
        const about = element('span', `${device(session.user_agent)}, last active ${when(session.last_used_at)}`);
        about.id = `session-${session.id}`;
        if (session.ip) about.append(`, from ${session.ip}`);
        item.append(about);
        if (session.current) {
          item.append(' ', element('strong', '(this device)'));
        } else {
          const button = element('button', 'Sign out this device', {
            type: 'button',
            'aria-describedby': about.id,
          });
          onClick(button, async () => {
            await auth.call('DELETE', `/auth/sessions/${encodeURIComponent(session.id)}`);
            await loadSessions();
            return 'That device is signed out.';
          });
          item.append(' ', button);
        }
        return item;
      }),
    );
  }

  /** "Work laptop: added …; last used …; synced (backed up)". */
  function describePasskey(passkey) {
    const used = passkey.last_used_at ? when(passkey.last_used_at) : 'never';
    const kept = passkey.backed_up ? 'synced (backed up)' : 'on one device (not backed up)';
    return `${passkey.name}: added ${when(passkey.created_at)}; last used ${used}; ${kept}`;
  }

  function passkeyItem(passkey) {
    const item = element('li');
    const about = element('span', describePasskey(passkey));
    about.id = `passkey-${passkey.id}`;
    const rename = element('button', 'Rename', { type: 'button', 'aria-describedby': about.id });
    const remove = element('button', 'Remove', { type: 'button', 'aria-describedby': about.id });
    // renaming: a small form of its own, shown by the Rename button
    const form = element('form');
    form.hidden = true;
    const field = element('input', '', {
      id: `passkey-rename-${passkey.id}`,
      name: 'name',
      type: 'text',
      maxlength: '64',
      autocomplete: 'off',
      required: '',
    });
    field.value = passkey.name;
    form.append(
      element('label', `New name for ${passkey.name}`, { for: field.id }),
      field,
      element('button', 'Save the name', { type: 'submit' }),
    );
    rename.addEventListener('click', () => {
      form.hidden = !form.hidden;
      if (!form.hidden) field.focus();
    });
    onSubmit(form, async (data) => {
      const renamed = await auth.renamePasskey(passkey.id, String(data.get('name')).trim());
      await Promise.all([loadPasskeys(), loadEvents()]);
      return `The passkey is now called ${renamed.name}.`;
    });
    onClick(remove, async () => {
      await auth.deletePasskey(passkey.id); // the API refuses the last way in, and says so
      await Promise.all([loadPasskeys(), loadEvents()]);
      return `${passkey.name} is removed: it no longer signs you in.`;
    });
    item.append(about, ' ', rename, ' ', remove, form);
    return item;
  }

  async function loadPasskeys() {
    if (!passkeysOn) return;
    const passkeys = await auth.passkeys();
    $('passkeys').replaceChildren(
      ...(passkeys.length ? passkeys.map(passkeyItem) : [element('li', 'No passkey yet.')]),
    );
  }

  async function loadIdentities() {
    const [{ identities }, providers] = await Promise.all([
      auth.call('GET', '/users/me/identities'),
      auth.providers(),
    ]);
    const names = new Map(providers.map((provider) => [provider.name, provider.display_name]));
    const items = identities.map((identity) => {
      const label = names.get(identity.provider) ?? identity.provider;
      const item = element('li', identity.email ? `${label}: ${identity.email}` : label);
      const button = element('button', `Unlink ${label}`, { type: 'button' });
      onClick(button, async () => {
        await auth.call('DELETE', `/users/me/identities/${encodeURIComponent(identity.id)}`);
        await Promise.all([loadIdentities(), loadEvents()]);
        return `${label} is unlinked.`;
      });
      item.append(' ', button);
      return item;
    });
    $('identities').replaceChildren(...(items.length ? items : [element('li', 'No provider is linked.')]));
    const linked = new Set(identities.map((identity) => identity.provider));
    const linkable = providers.filter((provider) => !linked.has(provider.name));
    $('link-which').replaceChildren(
      ...linkable.map((provider) => element('option', provider.display_name, { value: provider.name })),
    );
    $('link-provider').hidden = linkable.length === 0;
    // no provider configured and none linked: nothing to show
    $('identities').closest('section').hidden = providers.length === 0 && identities.length === 0;
  }

  async function loadEvents(older = false) {
    const query = new URLSearchParams({ limit: '20' });
    if (older && olderThan !== null) query.set('before', String(olderThan));
    const page = await auth.call('GET', `/users/me/events?${query}`);
    const items = page.events.map((event) => {
      let text = `${when(event.created_at)}: ${EVENTS[event.type] ?? event.type}`;
      if (event.details?.method) text += ` (${event.details.method})`;
      if (event.details?.passkey) text += `: ${event.details.passkey}`;
      if (event.ip) text += `, from ${event.ip}`;
      return element('li', text);
    });
    if (older) $('events').append(...items);
    else $('events').replaceChildren(...items);
    olderThan = page.next_before;
    $('older-events').hidden = olderThan === null;
  }

  function showRecoveryCodes(codes) {
    $('recovery-codes').replaceChildren(...codes.map((code) => element('li', code)));
    $('recovery').hidden = false;
  }

  const password = (data) => (hasPassword ? { password: data.get('password') } : {});

  onSubmit($('change-password'), async (data, form) => {
    await auth.call('POST', '/users/me/password', {
      current_password: data.get('current-password'),
      new_password: data.get('new-password'),
    });
    form.reset();
    await Promise.all([loadSessions(), loadEvents()]);
    return 'Your password is changed. Your other sessions were signed out.';
  });

  onSubmit($('change-email'), async (data, form) => {
    const address = data.get('new-email');
    await auth.call('POST', '/users/me/email', { new_email: address, ...password(data) });
    form.reset();
    return `We sent a link to ${address}: the address changes when you open it and confirm.`;
  });

  onSubmit($('add-passkey'), async (data, form) => {
    const name = String(data.get('name')).trim();
    const added = await auth.addPasskey({ ...password(data), ...(name ? { name } : {}) });
    form.reset();
    await Promise.all([loadPasskeys(), loadEvents()]);
    return `Your passkey ${added.name} is added: you can sign in with it now.`;
  });

  onSubmit($('totp-start'), async (data, form) => {
    const setup = await auth.call('POST', '/auth/mfa/totp/setup', password(data));
    form.reset();
    $('totp-qr').src = setup.qr_code;
    $('totp-secret').textContent = setup.secret;
    form.hidden = true;
    $('totp-confirm').hidden = false;
    $('totp-code').focus();
    return 'Scan the QR code, then type in the six digits the app shows.';
  });

  onSubmit($('totp-confirm'), async (data, form) => {
    const { recovery_codes: codes } = await auth.call('POST', '/auth/mfa/totp/confirm', {
      code: String(data.get('code')).trim(),
    });
    form.reset();
    form.hidden = true;
    $('totp-qr').removeAttribute('src');
    $('totp-secret').textContent = '';
    showRecoveryCodes(codes);
    await Promise.all([loadMfa(), loadSessions(), loadEvents()]);
    return 'Two-factor authentication is on. Your other sessions were signed out.';
  });

  onSubmit($('recovery-regenerate'), async (data, form) => {
    const { recovery_codes: codes } = await auth.call('POST', '/auth/mfa/recovery-codes', {
      code: String(data.get('code')).trim(),
    });
    form.reset();
    showRecoveryCodes(codes);
    await Promise.all([loadMfa(), loadEvents()]);
    return 'New recovery codes are below; the old ones no longer work.';
  });

  onSubmit($('totp-disable'), async (data, form) => {
    await auth.call('POST', '/auth/mfa/totp/disable', {
      code: String(data.get('code')).trim(),
      ...password(data),
    });
    form.reset();
    $('recovery').hidden = true;
    await Promise.all([loadMfa(), loadSessions(), loadEvents()]);
    return 'Two-factor authentication is off. Your other sessions were signed out.';
  });

  onSubmit($('link-provider'), async (data) => {
    const here = window.location.href.split(/[?#]/)[0];
    const { authorization_url: next } = await auth.call('POST', '/users/me/identities', {
      provider: data.get('provider'),
      redirect_to: here,
      ...password(data),
    });
    window.location.assign(next);
  });

  onClick($('older-events'), () => loadEvents(true));
  $('sign-out').addEventListener('click', () => auth.signOut());
  onClick($('sign-out-everywhere'), () => auth.signOutEverywhere());

  async function loadAll() {
    await loadProfile();
    await Promise.all([loadMfa(), loadSessions(), loadPasskeys(), loadIdentities(), loadEvents()]);
  }
  $('passkeys-section').hidden = !passkeysOn;
  $('add-passkey').hidden = !auth.passkeysSupported();
  $('passkeys-unsupported').hidden = auth.passkeysSupported();
  await loadAll();
  $('signed-in').hidden = false;
  if (returned.status === 'linked') {
    say(`${returned.provider} is linked: you can sign in with it now.`, 'success', statusFor($('identities')));
  } else if (returned.status === 'error') {
    say(providerProblem(returned.code), 'error', statusFor($('identities')));
  }
  // a tab coming back into view (or a laptop waking) shows what changed meanwhile
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && auth.isSignedIn) loadAll().catch(failed);
  });
}
