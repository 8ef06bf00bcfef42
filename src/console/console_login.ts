/**
 * The console's login page: a plain HTML form (`POST /login`, field `token`) shown instead of
 * the console when the admin listener has a token and the browser has no session. No script
 * and no inline style, so it lives under the console's Content-Security-Policy unchanged.
 *
 * @example
 * ```ts
 * import { loginPage } from "./console_login.ts";
 * loginPage("wrong token").includes('action="/login"'); // true
 * ```
 * @module
 */

/** `text` with the characters HTML gives a meaning escaped. */
function _escapeHtml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;").replaceAll("'", "&#39;");
}

/** The login page, with `message` (e.g. why the last attempt failed) above the form. */
export function loginPage(message?: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>whd console: log in</title>
<link rel="icon" href="data:,">
</head>
<body>
<main>
<h1>whd console</h1>
<p>This console needs the admin token (the value of the variable <code>admin.token_env</code> names).</p>
${
    message
      ? `<p role="alert" id="login-error">${_escapeHtml(message)}</p>\n`
      : ""
  }<form method="post" action="/login">
<label for="token">Admin token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Log in</button>
</form>
</main>
</body>
</html>
`;
}
