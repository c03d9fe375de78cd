// Sends through Posthorn's ZeptoMail surface with ZeptoMail's own SDK, configured as its README shows:
// `new SendMailClient({url, token})` with the token as ZeptoMail writes it, `Zoho-enczapikey <key>`.
// The SDK puts `https://` before a URL that does not contain it, so the local stack's http URL needs the
// client's own second argument, `{useHttps: false}` (a deployed Posthorn is https: the URL alone does).
//
//   node send.js '<json>'
//
// <json>: {"url", "token", "use_https"?: bool, "call": "sendMail" | "sendBatchMail", "options": {...}}
// Prints one JSON object: {"answer": <what the SDK resolved>} or {"rejected": <what it rejected with>}.
'use strict';

const { SendMailClient } = require('zeptomail');

const config = JSON.parse(process.argv[2]);
const client = config.use_https === false
    ? new SendMailClient({ url: config.url, token: config.token }, { useHttps: false })
    : new SendMailClient({ url: config.url, token: config.token });

client[config.call](config.options)
    .then((answer) => process.stdout.write(JSON.stringify({ answer }) + '\n'))
    .catch((rejected) => {
        // The SDK rejects with the parsed JSON body of a non-2xx answer, or with an Error.
        const value = rejected instanceof Error ? { message: rejected.message } : rejected;
        process.stdout.write(JSON.stringify({ rejected: value }) + '\n');
    });
