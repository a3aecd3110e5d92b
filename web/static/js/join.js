/**
 * A specialist's invite link (/join/{token}): log in if needed (and come back here), accept the
 * invite, and go to the consult room. A used, expired or misdirected invite is said in plain
 * words, with the way back.
 */

import {
  api, fill, getToken, h, homeFor, rememberReturn, showError, startPage, takeReturn,
} from "./app.js";
import { t } from "./i18n.js";

const token = /^\/join\/([A-Za-z0-9_-]+)\/?$/.exec(location.pathname)?.[1] ?? null;

if (token) {
  // Kept until the invite has been tried: a login on the way (no token, or an expired one)
  // brings the specialist back here.
  rememberReturn(`/join/${token}`);
}

if (token && !getToken()) {
  location.replace("/login");
} else {
  startPage({
    render: async (me) => {
      const box = document.getElementById("join");
      if (!token) {
        showError(() => t("error.invite_invalid"));
      } else {
        try {
          const accepted = await api(`/api/invites/${encodeURIComponent(token)}/accept`,
            { method: "POST" });
          takeReturn(); // done with the link
          location.replace(`/consults/${encodeURIComponent(accepted.consult_id)}`);
          return;
        } catch (err) {
          showError(err);
        }
      }
      takeReturn(); // a refused link is not worth coming back to
      fill(box, h("a", { class: "btn btn-secondary btn-block btn-big", href: homeFor(me.role),
                         testid: "back-home" }, t("common.back_home")));
    },
  });
}
