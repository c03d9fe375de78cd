<?php
// Sends one message with Symfony Mailer (Debian's php-symfony-mailer; Laravel's mailer), configured the way
// its docs show it: a DSN, `smtp://USER:PASS@HOST:PORT` (STARTTLS whenever the server offers it) or
// `smtps://USER:PASS@HOST:PORT` (implicit TLS), and the CA in the socket stream's `ssl` context options with
// `verify_peer` on (the DSN itself only has `verify_peer=0` to turn verification off).
//
//   php send.php '<json>'
//
// <json>: {"dsn", "ca_file",
//          "message": {"from": {"email", "name"}, "to": [...], "cc": [...], "bcc": [...], "subject",
//                      "text", "html", "headers": {...},
//                      "attachments": [{"path", "filename", "content_type"}]}}
// Prints one JSON object: {"message_id_header", "debug"} (`debug`: SentMessage::getDebug(), the SMTP
// transcript), or {"error", "debug"} with exit status 1.

declare(strict_types=1);

require '/usr/share/php/Symfony/Component/Mailer/autoload.php';

use Symfony\Component\Mailer\Exception\TransportExceptionInterface;
use Symfony\Component\Mailer\Transport;
use Symfony\Component\Mime\Address;
use Symfony\Component\Mime\Email;

$config = json_decode($argv[1] ?? getenv('POSTHORN_SMTP_CLIENT_CONFIG'), true, 64, JSON_THROW_ON_ERROR);
$message = $config['message'];
$mailbox = fn (array $entry): Address => new Address($entry['email'], $entry['name'] ?? '');

$transport = Transport::fromDsn($config['dsn']);
$stream = $transport->getStream();
$options = $stream->getStreamOptions();
$options['ssl']['verify_peer'] = true;
$options['ssl']['verify_peer_name'] = true;
$options['ssl']['cafile'] = $config['ca_file'];
$stream->setStreamOptions($options);
$stream->setTimeout(10);

$email = (new Email())
    ->from($mailbox($message['from']))
    ->to(...array_map($mailbox, $message['to'] ?? []))
    ->subject($message['subject'])
    ->text($message['text'])
    ->html($message['html']);
if (!empty($message['cc'])) {
    $email->cc(...array_map($mailbox, $message['cc']));
}
if (!empty($message['bcc'])) {
    $email->bcc(...array_map($mailbox, $message['bcc']));
}
foreach ($message['headers'] ?? [] as $name => $value) {
    $email->getHeaders()->addTextHeader($name, $value);
}
foreach ($message['attachments'] ?? [] as $file) {
    $email->attachFromPath($file['path'], $file['filename'], $file['content_type']);
}

try {
    $sent = $transport->send($email);
    echo json_encode([
        'message_id_header' => $sent->getMessageId(),
        'debug' => $sent->getDebug(),
    ], JSON_THROW_ON_ERROR | JSON_UNESCAPED_UNICODE), "\n";
} catch (TransportExceptionInterface $error) {
    echo json_encode([
        'error' => $error->getMessage(),
        'debug' => $error->getDebug(),
    ], JSON_UNESCAPED_UNICODE | JSON_INVALID_UTF8_SUBSTITUTE), "\n";
    exit(1);
}
