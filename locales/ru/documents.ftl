# Документы, которые двигают коды по их жизни (POST /v1/documents и ответы
# на отгрузку), и история кода, на русском.

error-document-signature-missing = Документ должен быть подписан ЭЦП: передайте отсоединённую подпись CMS тела запроса в заголовке X-Signature (base64).
error-document-signer-mismatch = Документ подписан сертификатом { $signer }, а отправляет его участник { $taxpayer_id }: подписать документ должен сам отправитель.
error-document-in-progress = Документ ещё проверяется (статус { $status }): дождитесь результата.
error-document-waits-acceptance = Документ ждёт ответа покупателя (статус { $status }).
error-document-final = Документ уже обработан (статус { $status }): изменить его нельзя.
error-document-accept-refused = Принять отгрузку нельзя: { $count } { $count ->
        [one] код не может
        [few] кода не могут
       *[many] кодов не могут
    } перейти к вам. Причины указаны в документе; ничего не изменено.

field-kind-not-served = Документы вида «{ $kind }» пока не принимаются.
field-too-many-codes = Слишком много кодов в одном документе: не более { $max }.
field-unknown-withdrawal-reason = Причины вывода из оборота «{ $value }» нет в справочнике.
field-unknown-write-off-reason = Причины списания «{ $value }» нет в справочнике.
field-price-required = В отгрузке у каждого кода указывается цена: объект с полями «code» и «price» (в тенге).
field-price-negative = Цена не может быть отрицательной, передано: { $value }.
field-unknown-receiver = Участник с БИН/ИИН { $value } не зарегистрирован или не одобрен.
field-receiver-is-sender = Нельзя отгрузить товар самому себе.

document-code-duplicate = Код уже указан в документе: это повтор кода № { $first }.
document-code-not-a-unit = Это код транспортной упаковки (SSCC): в документе указываются коды единиц товара.
document-code-not-found = Такого кода нет в системе Таңба.
document-code-not-owned = Код принадлежит другому участнику.
document-code-in-pending-shipment = Код входит в отгрузку { $document }, которая ждёт ответа покупателя.

field-not-an-sscc = Это не SSCC транспортной упаковки (18 цифр с контрольной цифрой GS1), передано: { $value }.
document-code-not-a-package = Это код единицы товара: при расформировании указываются SSCC упаковок.
document-code-in-package = Код лежит в упаковке { $package }: укажите в документе упаковку целиком или сначала расформируйте её.
document-package-not-found = Такой упаковки (SSCC) нет в системе Таңба.
document-package-not-owned = Упаковка принадлежит другому участнику.
document-package-in-package = Упаковка лежит в упаковке { $package }: сначала расформируйте внешнюю упаковку.
document-package-duplicate = Упаковка с этим SSCC указана в документе дважды.
document-package-exists = Упаковка с этим SSCC уже существует: возьмите новый SSCC или сначала расформируйте её.
document-aggregation-in-two-packages = Код попадает в две упаковки: { $package } и { $other }.
document-aggregation-cycle = Упаковка оказалась бы внутри самой себя: { $path }.
document-aggregation-mixed-statuses = В упаковке коды в разных статусах ({ $statuses }): у всех вложений упаковки должен быть один статус.

# Тело документа: JSON или NDJSON (первая строка — документ без «codes»,
# каждая следующая — один код).
error-unsupported-media-type = Документ принимается как application/json, application/x-ndjson (первая строка — поля документа без «codes», далее по одному коду в строке) или text/csv (названия и значения полей в двух строках, в третьей — названия столбцов кодов, далее по одному коду в строке), а передан Content-Type: { $content_type }.
error-unsupported-charset = Кодировка { $charset } не поддерживается: JSON и NDJSON передаются в UTF-8, CSV — в UTF-8 или windows-1251 (Content-Type: text/csv; charset=windows-1251).
error-malformed-json-line = Строка { $line } тела не является корректным JSON: { $detail }
error-malformed-csv = Тело не является CSV нужного вида: { $detail }
error-malformed-csv-line = Строка { $line } тела не соответствует виду CSV документа: { $detail }
field-not-streamable = Документ вида «{ $kind }» отправляется только как JSON (application/json) или CSV (text/csv, в каждой строке упаковка и один её член): его коды разложены по упаковкам, а не по строкам.
field-too-many-errors = Ошибок слишком много: показаны первые { $max }, остальные коды не проверялись.
field-not-a-position = Позиция в списке — целое число, 0 или больше.
