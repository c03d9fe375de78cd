// Sends one message with Nodemailer, configured the way its docs (and Postmark's, Resend's, ZeptoMail's and
// MailPace's Nodemailer examples) show it: host, port, `secure` (implicit TLS) or `requireTLS` (STARTTLS),
// `auth: {user, pass}`, `authMethod`, and the CA in `tls.ca`.
//
//   node send.js '<json>'
//
// <json>: {"host", "port", "security": "starttls" | "tls", "user", "pass", "ca_file", "auth_method"?,
//          "message": {"from": {"email", "name"}, "to": [...], "cc": [...], "bcc": [...], "subject",
//                      "text", "html", "headers": {...},
//                      "attachments": [{"path", "filename", "content_type", "cid"?}]}}
// Prints one JSON object: {"response", "accepted", "rejected", "envelope", "message_id_header",
// "transcript"}, or {"error", "code", "response", "transcript"} with exit status 1.
'use strict';

const fs = require('node:fs');
const util = require('node:util');
const nodemailer = require('nodemailer');

const config = JSON.parse(process.argv[2] || process.env.POSTHORN_SMTP_CLIENT_CONFIG);
const transcript = [];
const record = (_meta, ...args) => transcript.push(util.format(...args));
const logger = Object.fromEntries(['trace', 'debug', 'info', 'warn', 'error', 'fatal'].map((level) => [level, record]));

const mailbox = (entry) => ({ name: entry.name || '', address: entry.email });
const message = config.message;

const transporter = nodemailer.createTransport({
    host: config.host,
    port: config.port,
    secure: config.security === 'tls',
    requireTLS: config.security === 'starttls',
    auth: { user: config.user, pass: config.pass },
    authMethod: config.auth_method || undefined,
    tls: { ca: [fs.readFileSync(config.ca_file)] },
    connectionTimeout: 10000,
    greetingTimeout: 10000,
    socketTimeout: 20000,
    logger,
    debug: true,
});

transporter
    .sendMail({
        from: mailbox(message.from),
        to: (message.to || []).map(mailbox),
        cc: (message.cc || []).map(mailbox),
        bcc: (message.bcc || []).map(mailbox),
        subject: message.subject,
        text: message.text,
        html: message.html,
        headers: message.headers || {},
        attachments: (message.attachments || []).map((file) => ({
            filename: file.filename,
            path: file.path,
            contentType: file.content_type,
            ...(file.cid ? { cid: file.cid } : {}),
        })),
    })
    .then((info) => {
        process.stdout.write(
            JSON.stringify({
                response: info.response,
                accepted: info.accepted,
                rejected: info.rejected,
                envelope: info.envelope,
                message_id_header: info.messageId,
                transcript: transcript.join('\n'),
            }) + '\n',
        );
        transporter.close();
    })
    .catch((error) => {
        process.stdout.write(
            JSON.stringify({
                error: String(error && error.message),
                code: error && error.code,
                response: error && error.response,
                transcript: transcript.join('\n'),
            }) + '\n',
        );
        transporter.close();
        process.exitCode = 1;
    });
