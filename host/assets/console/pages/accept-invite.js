// pages/accept-invite.js: `/console/accept-invite#token=...`, an invitation: the invitee chooses
// a password (POST /v1/auth/accept-invite), then signs in.

import { passwordForm } from '../password-form.js';

export async function render(main, ctx) {
  passwordForm(main, ctx, {
    title: 'Welcome to VeroField',
    intro: 'You were invited to your company’s VeroField. Choose a password to sign in with.',
    endpoint: '/v1/auth/accept-invite',
    button: 'Accept the invitation',
    done: 'Your account is ready. Sign in with your company, email and new password.',
  });
}
