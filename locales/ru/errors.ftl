# Errors of the HTTP API, in Russian. Keys are `error-` and the machine code.
error-not-found = Запрошенный ресурс не найден.
error-internal = Произошла внутренняя ошибка. Сообщите в службу поддержки номер: { $reference }.
error-payload-too-large = Запрос слишком большой: { $length } байт, допустимо не более { $limit } байт.
error-not-json = Тело запроса должно быть в формате JSON (Content-Type: application/json).
error-malformed-json = Тело запроса не является корректным JSON: { $detail }
error-unauthenticated = Требуется вход: токен доступа не передан, недействителен или истёк.
error-forbidden = У вас нет прав на это действие.
error-body-too-large = Тело запроса больше допустимого размера.
error-method-not-allowed = Этот адрес не принимает такой HTTP-метод.
error-bad-request = Запрос составлен неверно.
error-internal-unreferenced = Произошла внутренняя ошибка. Повторите попытку позже.
