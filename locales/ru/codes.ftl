# Сообщения об ошибках разбора кода маркировки (tanba-core, gs1::ParseError).
# Ключ: code-error- + машинный код ошибки, в котором _ заменено на -.
# Переменные — из ParseError::args(). Позиции считаются с нуля.
# Числа приходят строками, поэтому сообщения построены без согласования по числу.

code-error-empty = Код пуст: сканер ничего не передал.
code-error-too-long = Слишком длинный ввод: { $length } знаков, а символ GS1 DataMatrix вмещает не более { $max }.
code-error-unsupported-symbology = Идентификатор символики { $symbology } означает, что в символе нет данных GS1.
code-error-expected-ai = Позиция { $position }: ожидался идентификатор применения GS1 (цифры), а найден знак { $char }.
code-error-unknown-ai = Позиция { $position }: { $ai } — неизвестный идентификатор применения GS1.
code-error-bad-length = AI { $ai }, позиция { $position }: неверная длина данных — { $length }, ожидается { $expected }.
code-error-bad-character =
    AI { $ai }, поле с позиции { $field_position }: знак { $char } на позиции { $position } { $charset ->
        [digits] не является цифрой
       *[other] не входит в набор знаков GS1 82
    }.
code-error-bad-check-digit = AI { $ai }, позиция { $position }: неверная контрольная цифра { $found }, должна быть { $expected }.
code-error-bad-date = AI { $ai }, позиция { $position }: «{ $date }» — несуществующая дата в формате ГГММДД.
code-error-bad-serial-length = AI { $ai }, позиция { $position }: в серийном номере Tanba должно быть ровно { $expected } знаков, а здесь { $length }.
code-error-bad-key-id-length = AI { $ai }, позиция { $position }: в идентификаторе ключа должно быть ровно { $expected } знака, а здесь { $length }.
code-error-missing-gtin = В коде нет GTIN (AI 01): код единицы товара содержит GTIN и серийный номер, код транспортной упаковки — SSCC (AI 00).
code-error-missing-serial = В коде нет серийного номера (AI 21) после GTIN.
code-error-duplicate-ai = AI { $ai } на позиции { $position } встречается повторно (впервые — на позиции { $first_position }).
code-error-conflicting-ai = AI { $ai } на позиции { $position } не может стоять в одном коде с AI { $other_ai }.
code-error-bad-human-readable = Позиция { $position }: ожидались скобка «(», 2–4 цифры идентификатора применения и скобка «)».
code-error-bad-digital-link =
    Позиция { $position }: неверная ссылка GS1 Digital Link: { $reason ->
        [not_a_url] это не URL
        [path] путь не заканчивается на /01/<GTIN>/21/<серийный номер> или /00/<SSCC>
        [key_in_query] ключ или уточнитель ключа должен стоять в пути, а не в параметрах запроса
       *[encoding] неверное процентное кодирование
    }.
code-error-not-a-unit-code = Это SSCC транспортной упаковки (AI 00), а не код единицы товара.
