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

# Сообщения о нарушениях (POST /v1/reports, GET /v1/reports/{number}) и их
# рассмотрение инспекторами.
error-report-not-found = Сообщение с таким номером не найдено или секретный код неверен.
error-report-rate-limited = С этого устройства или адреса отправлено слишком много сообщений о нарушениях. Повторите через { $unit ->
        [seconds] { $count } { $count ->
            [one] секунду
            [few] секунды
           *[many] секунд
        }
       *[minutes] { $count } { $count ->
            [one] минуту
            [few] минуты
           *[many] минут
        }
    }.
error-report-duplicate = Вы уже сообщали об этом нарушении за последние сутки: номер сообщения { $number }.
error-report-photo-too-large = Фотография { $n } слишком большая: не более { $max_mb } МБ.
error-report-too-many-photos = Слишком много фотографий: не более { $max }.
error-report-photo-not-image = Фотография { $n } не является изображением или повреждена (принимаются JPEG, PNG и WebP).
error-report-not-multipart = Сообщение отправляется как multipart/form-data: часть «report» с JSON и части «photo».
error-report-malformed = Сообщение составлено неверно: { $detail }
error-report-unknown-part = Часть «{ $name }» не ожидается: принимаются только части «report» и «photo».
error-report-upload-too-large = Слишком много данных: не более { $limit_mb } МБ.
error-report-upload-timeout = Отправка заняла слишком много времени: сообщение с фотографиями должно быть передано в течение { $secs } { $secs ->
        [one] секунды
       *[other] секунд
    }. Попробуйте ещё раз, при более устойчивой связи или с меньшим числом фотографий.
error-report-bad-device-id = Заголовок X-Device-Id должен состоять из 1–128 видимых символов ASCII.
error-report-status-transition = Нельзя перевести сообщение из статуса «{ $from }» в статус «{ $to }».
error-report-no-code = В сообщении не указан код: блокировать нечего.
error-report-code-not-stored = Код из сообщения не зарегистрирован в системе Таңба: заблокировать его нельзя.
error-report-photo-not-found = В сообщении нет такой фотографии.
