// Calls Posthorn's Resend-compatible routes with Resend's own Node.js SDK (npm `resend`), configured the way
// a user moving from Resend would: the base URL as the `baseUrl` option, or as RESEND_BASE_URL.
//
//   node send.js '<json>'
//
// <json>: {"api_key", "base_url"?, "call": "send" | "batch", "payload", "options"?,
//          "buffers"?: true (attachments' base64 content handed to the SDK as Buffers, as Node apps do)}
// Prints one JSON object: what the SDK resolved to, `{data, error, headers}` (it never throws for an API
// error), or {"thrown"} with exit status 1 if it threw.
'use strict';

const { Resend } = require('resend');

const config = JSON.parse(process.argv[2]);
const resend = config.base_url ? new Resend(config.api_key, { baseUrl: config.base_url }) : new Resend(config.api_key);

const withBuffers = (email) => ({
    ...email,
    attachments: email.attachments?.map((file) => ({ ...file, content: Buffer.from(file.content, 'base64') })),
});

async function main() {
    if (config.call === 'batch') {
        return resend.batch.send(config.payload, config.options);
    }
    const payload = config.buffers ? withBuffers(config.payload) : config.payload;
    return resend.emails.send(payload, config.options);
}

main()
    .then((result) => process.stdout.write(JSON.stringify(result) + '\n'))
    .catch((error) => {
        process.stdout.write(JSON.stringify({ thrown: String(error && error.stack) }) + '\n');
        process.exitCode = 1;
    });
