<?php
// Sends one message with PHPMailer (Debian's libphp-phpmailer), configured the way its README and the
// Postmark/ZeptoMail/MailPace PHPMailer examples show it: isSMTP(), Host, Port, SMTPSecure
// (ENCRYPTION_STARTTLS or ENCRYPTION_SMTPS), SMTPAuth, Username/Password, AuthType, and the CA in
// SMTPOptions['ssl']['cafile'] with verify_peer on.
//
//   php send.php '<json>'
//
// <json>: {"host", "port", "security": "starttls" | "tls", "user", "pass", "ca_file", "auth_method"?,
//          "message": {"from": {"email", "name"}, "to": [...], "cc": [...], "bcc": [...], "subject",
//                      "text", "html", "headers": {...},
//                      "attachments": [{"path", "filename", "content_type", "cid"?}]}}
// Prints one JSON object: {"transaction_id", "message_id_header", "transcript"}, or {"error", "transcript"}
// with exit status 1.

declare(strict_types=1);

require '/usr/share/php/libphp-phpmailer/autoload.php';

use PHPMailer\PHPMailer\PHPMailer;
use PHPMailer\PHPMailer\SMTP;

$config = json_decode($argv[1] ?? getenv('POSTHORN_SMTP_CLIENT_CONFIG'), true, 64, JSON_THROW_ON_ERROR);
$message = $config['message'];
$transcript = [];

$mail = new PHPMailer(true);
try {
    $mail->isSMTP();
    $mail->Host = $config['host'];
    $mail->Port = $config['port'];
    $mail->SMTPSecure = $config['security'] === 'tls' ? PHPMailer::ENCRYPTION_SMTPS : PHPMailer::ENCRYPTION_STARTTLS;
    $mail->SMTPAuth = true;
    $mail->Username = $config['user'];
    $mail->Password = $config['pass'];
    if (!empty($config['auth_method'])) {
        $mail->AuthType = $config['auth_method'];
    }
    $mail->SMTPOptions = [
        'ssl' => [
            'verify_peer' => true,
            'verify_peer_name' => true,
            'allow_self_signed' => false,
            'cafile' => $config['ca_file'],
        ],
    ];
    $mail->Timeout = 10;
    $mail->SMTPDebug = SMTP::DEBUG_SERVER;
    $mail->Debugoutput = function (string $line, int $level) use (&$transcript): void {
        $transcript[] = rtrim($line);
    };

    $mail->CharSet = PHPMailer::CHARSET_UTF8;
    $mail->setFrom($message['from']['email'], $message['from']['name'] ?? '');
    foreach ($message['to'] ?? [] as $entry) {
        $mail->addAddress($entry['email'], $entry['name'] ?? '');
    }
    foreach ($message['cc'] ?? [] as $entry) {
        $mail->addCC($entry['email'], $entry['name'] ?? '');
    }
    foreach ($message['bcc'] ?? [] as $entry) {
        $mail->addBCC($entry['email'], $entry['name'] ?? '');
    }
    foreach ($message['headers'] ?? [] as $name => $value) {
        $mail->addCustomHeader($name, $value);
    }
    $mail->Subject = $message['subject'];
    $mail->isHTML(true);
    $mail->Body = $message['html'];
    $mail->AltBody = $message['text'];
    foreach ($message['attachments'] ?? [] as $file) {
        if (!empty($file['cid'])) {
            $mail->addEmbeddedImage($file['path'], $file['cid'], $file['filename'], PHPMailer::ENCODING_BASE64, $file['content_type']);
        } else {
            $mail->addAttachment($file['path'], $file['filename'], PHPMailer::ENCODING_BASE64, $file['content_type']);
        }
    }

    $mail->send();
    echo json_encode([
        'transaction_id' => $mail->getSMTPInstance()->getLastTransactionID(),
        'message_id_header' => $mail->getLastMessageID(),
        'transcript' => implode("\n", $transcript),
    ], JSON_THROW_ON_ERROR | JSON_UNESCAPED_UNICODE), "\n";
} catch (Throwable $error) {
    echo json_encode([
        'error' => $error->getMessage() . ($mail->ErrorInfo !== '' ? ' / ' . $mail->ErrorInfo : ''),
        'transcript' => implode("\n", $transcript),
    ], JSON_UNESCAPED_UNICODE | JSON_INVALID_UTF8_SUBSTITUTE), "\n";
    exit(1);
}
