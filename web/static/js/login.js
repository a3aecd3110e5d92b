/**
 * The login page: post the username and password, keep the token for this tab, and go to
 * the page where the user's role starts (or back to the invite link that sent them here).
 */

import {
  ApiError, api, homeFor, setToken, showError, startPage, takeReturn, tooManyAttempts,
} from "./app.js";
import { t } from "./i18n.js";

const form = document.getElementById("login-form");
const button = form.querySelector('[data-testid="login"]');
const { username, password } = form.elements;
const toggle = document.getElementById("toggle-password");

/** The countdown running after "too many attempts"; only one at a time. */
let waitTimer = null;

function setBusy(busy) {
  button.disabled = busy;
  // data-i18n (not just the text) so a language switch while busy keeps the right words.
  button.dataset.i18n = busy ? "login.busy" : "login.button";
  button.textContent = t(button.dataset.i18n);
}

/** Keep the button off and count down the seconds the server asked us to wait. */
function waitBeforeRetry(seconds) {
  clearInterval(waitTimer);
  let left = seconds;
  button.disabled = true;
  showError(() => tooManyAttempts(left));
  waitTimer = setInterval(() => {
    left -= 1;
    if (left > 0) {
      showError(() => tooManyAttempts(left));
      return;
    }
    clearInterval(waitTimer);
    waitTimer = null;
    button.disabled = false;
    showError(null);
  }, 1000);
}

toggle.addEventListener("click", () => {
  const show = password.type === "password";
  password.type = show ? "text" : "password";
  toggle.setAttribute("aria-pressed", String(show));
  toggle.dataset.i18n = show ? "login.hide_password" : "login.show_password";
  toggle.textContent = t(toggle.dataset.i18n);
});

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (waitTimer) return;
  const name = username.value.trim();
  if (!name) {
    showError(() => t("login.need_username"));
    username.focus();
    return;
  }
  if (!password.value) {
    showError(() => t("login.need_password"));
    password.focus();
    return;
  }
  showError(null);
  setBusy(true);
  try {
    const session = await api("/api/auth/login", {
      method: "POST",
      body: { username: name, password: password.value },
      auth: false,
    });
    setToken(session.access_token);
    const me = await api("/api/me");
    // A specialist who came from an invite link goes back to it; everyone else goes home.
    location.replace(takeReturn() ?? homeFor(me.role));
  } catch (err) {
    setBusy(false);
    if (err instanceof ApiError && err.status === 401) {
      showError(() => t("login.wrong"));
      password.select();
    } else if (err instanceof ApiError && err.status === 429 && err.retryAfter) {
      waitBeforeRetry(err.retryAfter);
    } else {
      showError(err);
    }
  }
});

startPage({ loggedIn: false });
