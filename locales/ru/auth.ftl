# Сообщения входа по ЭЦП, регистрации участников и проверки полей (русский).
# Ключи: error- и машинный код ошибки API; field- и код ошибки поля.

## Проверка ЭЦП (электронной цифровой подписи)

error-eds-malformed = Подпись не прочитана: ожидалась подпись CMS (PKCS#7) с одним подписантом в base64.
error-eds-bad-signature = Подпись недействительна: она не соответствует переданным данным или сертификату.
error-eds-untrusted = Сертификат выдан не доверенным удостоверяющим центром или подделан.
error-eds-expired = На момент подписания срок действия сертификата истёк.
error-eds-not-yet-valid = На момент подписания сертификат ещё не вступил в действие.
error-eds-revoked = Сертификат отозван удостоверяющим центром.
error-eds-revocation-unknown = Невозможно проверить, не отозван ли сертификат: нет списка отозванных сертификатов выдавшего его центра.
error-eds-bad-signing-time = Неверное время подписания в подписи.
error-eds-no-taxpayer-id = В сертификате нет действительного ИИН или БИН.

## Вход

error-auth-challenge-unknown = Запрос на вход неизвестен. Получите новый запрос и подпишите его.
error-auth-challenge-expired = Срок запроса на вход истёк. Получите новый запрос и подпишите его.
error-auth-challenge-used = Этот запрос уже использован. Получите новый запрос и подпишите его.
error-auth-not-registered = Владелец этого сертификата не зарегистрирован в системе.
error-participant-not-approved = Участник ещё не одобрен или его заявка отклонена.

## Регистрация участников

error-validation-failed = В запросе есть ошибки ({ $count }): ошибка каждого поля указана ниже.
error-participant-exists = Участник с номером { $taxpayer_id } уже зарегистрирован.
error-registration-signer-mismatch = Заявку должен подписать владелец номера { $taxpayer_id }, а в сертификате указан { $signer }.
error-participant-already-decided = По заявке уже принято решение (статус: { $status }).

## Поля

field-unknown-field = Такого поля нет.
field-required = Поле обязательно.
field-not-text = Должно быть текстом.
field-not-list = Должно быть списком.
field-not-object = Должно быть объектом (JSON object).
field-too-long = Слишком длинно: не более { $max } символов.
field-control-characters = Не должно содержать управляющих символов.
field-taxpayer-id-format = БИН или ИИН должен состоять ровно из 12 цифр.
field-taxpayer-id-control-digit = Неверная контрольная цифра: должна быть { $expected }.
field-taxpayer-id-never-issued = Такой номер не выдаётся: контрольную цифру вычислить невозможно.
field-iin-birth-date = Первые шесть цифр ИИН не являются действительной датой рождения.
field-iin-century = Седьмая цифра ИИН должна быть от 0 до 6.
field-bin-month = Третья и четвёртая цифры БИН должны быть месяцем от 01 до 12.
field-bin-entity-type = Пятая цифра БИН должна быть 4, 5 или 6.
field-unknown-role = «{ $role }» — не роль участника. Возможные роли: manufacturer, importer, wholesaler, retailer.
field-duplicate-role = Роль «{ $role }» повторяется.
field-contacts-required = Укажите адрес электронной почты или номер телефона.
field-email = Неверный адрес электронной почты.
field-phone = Неверный номер телефона: укажите его в международном формате, например +7 701 234 56 78.
field-base64 = Текст должен быть в base64.
field-not-json-object = Должно быть объектом JSON (object).
field-unknown-status = Статус «{ $status }» неизвестен. Возможные значения: PENDING, APPROVED, REFUSED.
field-out-of-range = Значение должно быть целым числом от { $min } до { $max }.
