# Справочные данные (НСИ), по-русски: названия справочников и ошибки.
# Ключ: reference- + имя справочника, в котором _ заменён на -.

reference-product-groups = Товарные группы
reference-tnved = Коды ТН ВЭД ЕАЭС
reference-countries = Страны
reference-regions = Регионы Казахстана (КАТО)
reference-units = Единицы измерения
reference-document-kinds = Виды документов
reference-withdrawal-reasons = Причины вывода из оборота
reference-write-off-reasons = Причины списания кодов
reference-violation-kinds = Виды нарушений

error-reference-not-found = Справочника «{ $name }» нет. Список справочников: /v1/reference.
