// pages/reset-password.js: `/console/reset-password#token=...`, a one-time link to choose a new
// password (POST /v1/auth/reset-password), then sign in.

import { passwordForm } from '../password-form.js';

export async function render(main, ctx) {
  passwordForm(main, ctx, {
    title: 'Choose a new password',
    intro: 'This link works once and for one hour. Every other session of yours is signed out.',
    endpoint: '/v1/auth/reset-password',
    button: 'Set password',
    done: 'Your password is set. Sign in with it.',
  });
}
