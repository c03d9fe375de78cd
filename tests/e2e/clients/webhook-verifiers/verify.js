// Reads {"secret", "body", "headers"} on stdin and verifies the delivery as the README's Node example does,
// with both libraries; prints {"standardwebhooks": "<type>", "svix": "<type>"} or exits 1 with the error.
const { Webhook } = require("standardwebhooks");
const svix = require("svix");

let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const { secret, body, headers } = JSON.parse(input);
  try {
    const result = {
      standardwebhooks: new Webhook(secret).verify(body, headers).type,
      svix: new svix.Webhook(secret).verify(body, headers).type,
    };
    process.stdout.write(JSON.stringify(result));
  } catch (error) {
    process.stderr.write(String(error && error.message));
    process.exit(1);
  }
});
