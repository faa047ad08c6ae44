# Errors of the HTTP API, in Kazakh. Keys are `error-` and the machine code.
error-not-found = Сұралған ресурс табылмады.
error-internal = Ішкі қате орын алды. Қолдау қызметіне мына нөмірді айтыңыз: { $reference }.
error-payload-too-large = Сұрау тым үлкен: { $length } байт, ең көбі { $limit } байт.
error-not-json = Сұрау денесі JSON болуы керек (Content-Type: application/json).
error-malformed-json = Сұрау денесі дұрыс JSON емес: { $detail }
error-unauthenticated = Кіру қажет: жарамды кіру токені берілмеген немесе оның мерзімі өткен.
error-forbidden = Бұл әрекетке рұқсатыңыз жоқ.
error-body-too-large = Сұрау денесі рұқсат етілген өлшемнен үлкен.
error-method-not-allowed = Бұл мекенжай мұндай HTTP әдісін қабылдамайды.
error-bad-request = Сұрау дұрыс құрылмаған.
error-internal-unreferenced = Ішкі қате орын алды. Кейінірек қайталап көріңіз.
