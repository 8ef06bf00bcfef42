/**
 * Example: answers a Slack slash command (e.g. `/whd status`). Slack shows the reply's body to
 * the user, so this needs a `mode: sync` webhook for Slack in whd.yaml: whd stores the command,
 * runs this handler, and sends the `Response` it returns as the HTTP reply (within Slack's 3 s).
 * Behind an async webhook the Response is ignored and Slack gets whd's usual `{"received":true}`.
 */
import type { Handler } from "@whd/whd/handler";

const handler: Handler = (event, ctx) => {
  const form = event.payload as { command?: string; text?: string; user_name?: string };
  ctx.log.info("slash command", {
    event_id: event.id,
    type: event.type,
    command: form.command,
  });
  return Response.json({
    response_type: "ephemeral",
    text: `${form.command ?? "command"} ${form.text ?? ""}`.trim() +
      ` received, ${form.user_name ?? "friend"}.`,
  });
};

export default handler;
