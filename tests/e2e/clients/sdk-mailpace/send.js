// Sends through Posthorn's MailPace surface with MailPace's own SDK, configured as its docs show:
// `new MailPace.DomainClient(token, {requestHost})`, then `client.sendEmail({...})`.
// The SDK builds its base URL as `https://${requestHost}` and has no option for the scheme; a deployed
// Posthorn is https, so `requestHost: "<api host>/<stage>/mailpace/api/v1/"` is all it takes. The local
// stack is plain http: this script checks the SDK built `https://` + requestHost, then swaps only the
// scheme on the SDK's public axios instance (`client.httpClient`), so path and headers stay the SDK's.
//
//   node send.js '<json>'
//
// <json>: {"request_host", "token", "scheme"?: "http", "email": {...}}
// Prints one JSON object: {"answer": <what sendEmail resolved>} or {"rejected": {"name", "message",
// "statusCode"}} (the SDK's error class, its message and the HTTP status).
'use strict';

const MailPace = require('@mailpace/mailpace.js');

const config = JSON.parse(process.argv[2]);
const client = new MailPace.DomainClient(config.token, { requestHost: config.request_host, timeout: 20 });
const built = client.httpClient.defaults.baseURL;
if (built !== `https://${config.request_host}`) {
    throw new Error(`the SDK built ${built}, not https://${config.request_host}`);
}
if (config.scheme === 'http') {
    client.httpClient.defaults.baseURL = `http://${config.request_host}`;
}

client
    .sendEmail(config.email)
    .then((answer) => process.stdout.write(JSON.stringify({ answer }) + '\n'))
    .catch((error) =>
        process.stdout.write(
            JSON.stringify({
                rejected: { name: error.constructor.name, message: error.message, statusCode: error.statusCode },
            }) + '\n',
        ),
    );
