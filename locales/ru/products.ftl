# Каталог товаров, по-русски: ошибки API (error-) и правила форматно-логического
# контроля, особые для каталога (field-). Общие правила (field-required,
# field-too-long, field-not-text, …) — в auth.ftl. Само поле называет
# details[].field ответа.

error-product-exists = GTIN { $gtin } уже зарегистрирован вами. Чтобы изменить карточку, используйте PUT /v1/products/{ $gtin }.
error-gtin-taken = GTIN { $gtin } зарегистрирован другим участником.
error-product-not-found = Товара с таким GTIN нет в каталоге.
error-not-product-owner = Эта карточка товара принадлежит другому участнику.
error-invalid-gtin = Неверный GTIN: нужно 14 цифр с правильной контрольной цифрой.

field-not-number = Должно быть числом.
field-one-of = Допустимые значения: { $allowed }.
field-gtin-format = GTIN должен состоять ровно из 14 цифр.
field-gtin-check-digit = Неверная контрольная цифра GTIN { $found }, должна быть { $expected }.
field-gtin-mismatch = GTIN в теле запроса не совпадает с GTIN { $expected } в адресе.
field-unknown-product-group = Товарной группы «{ $value }» нет в справочнике.
field-unknown-tnved = Кода ТН ВЭД «{ $value }» нет в справочнике.
field-tnved-not-in-group = Код ТН ВЭД { $value } относится к группе «{ $group }», а указана группа «{ $expected }».
field-unknown-country = Страны «{ $value }» нет в справочнике (нужен код ISO 3166-1 alpha-2, например KZ).
field-both-or-neither = Нужно заполнить вместе с полем «{ $other }».
field-date-format = Нужна существующая дата в формате ГГГГ-ММ-ДД.
field-date-in-future = Дата { $value } ещё не наступила.
field-price-format = Цена указывается в тенге, не более двух цифр после точки (например, 1250.50).
field-not-positive = Значение должно быть больше нуля, передано: { $value }.
field-price-too-large = Слишком большая цена: не более { $max } тенге.
field-https-url = Нужна полная ссылка, начинающаяся с https://.
