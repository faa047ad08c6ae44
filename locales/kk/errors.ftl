# Errors of the HTTP API, in Kazakh. Keys are `error-` and the machine code.
error-not-found = Сұралған ресурс табылмады.
error-internal = Ішкі қате орын алды. Қолдау қызметіне мына нөмірді айтыңыз: { $reference }.
error-payload-too-large = Сұрау тым үлкен: { $length } байт, ең көбі { $limit } байт.
error-not-json = Сұрау денесі JSON болуы керек (Content-Type: application/json).
error-malformed-json = Сұрау денесі дұрыс JSON емес: { $detail }
error-unauthenticated = Кіру қажет: жарамды кіру токені берілмеген немесе оның мерзімі өткен.
error-forbidden = Бұл әрекетке рұқсатыңыз жоқ.
