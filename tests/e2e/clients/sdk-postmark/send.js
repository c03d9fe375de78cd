// Calls Posthorn's Postmark-compatible surface with Postmark's official Node.js SDK (`postmark` on npm),
// configured the one way the SDK offers for another host: `new ServerClient(token, {useHttps, requestHost})`,
// whose URLs are `${useHttps ? "https" : "http"}://${requestHost}${path}` (requestHost may carry a path).
//
//   node send.js '<json>'
//
// <json>: {"request_host": "127.0.0.1:8000/postmark", "use_https": false, "token": "<api_key>",
//          "calls": [{"method": "sendEmail" | "sendEmailBatch", "body": <Message or [Message]>}, ...]}
// The calls run one after another in this process. Prints one JSON object: {"results": [...]}, each
// {"ok": <the SDK's answer>} or {"error": {"class", "code", "statusCode", "message", "recipients"?}}
// (the SDK's error class, e.g. InvalidAPIKeyError, and its fields). Exit status 1 only if the script failed.
'use strict';

const postmark = require('postmark');

async function main() {
    const config = JSON.parse(process.argv[2]);
    const client = new postmark.ServerClient(config.token, {
        useHttps: config.use_https,
        requestHost: config.request_host,
        timeout: 30,
    });
    const results = [];
    for (const call of config.calls) {
        try {
            results.push({ ok: await client[call.method](call.body) });
        } catch (error) {
            if (!(error instanceof postmark.Errors.PostmarkError)) {
                throw error;
            }
            results.push({
                error: {
                    class: error.constructor.name,
                    code: error.code,
                    statusCode: error.statusCode,
                    message: error.message,
                    recipients: error.recipients,
                },
            });
        }
    }
    console.log(JSON.stringify({ results }));
}

main().catch((error) => {
    console.log(JSON.stringify({ failed: String(error && error.stack ? error.stack : error) }));
    process.exit(1);
});
