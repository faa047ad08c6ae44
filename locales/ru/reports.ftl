# Сообщения о нарушениях, по-русски: статусы сообщения (report-status-) и
# ошибки полей при контроле сообщения и очереди инспектора (field-). Общие
# правила (field-required, field-too-long, …) — в auth.ftl и products.ftl.

report-status-new = Новое
report-status-in-review = На рассмотрении
report-status-confirmed = Подтверждено
report-status-rejected = Отклонено
report-status-inspection-scheduled = Назначена проверка
report-status-closed = Закрыто

field-unknown-violation-kind = Вида нарушения «{ $value }» нет в справочнике.
field-code-malformed = Код не распознан: скопируйте его полностью или отсканируйте заново.
field-code-not-a-unit = Это код транспортной упаковки (SSCC): укажите код единицы товара.
field-coordinate-range = Координата должна быть от { $min } до { $max }.
field-place-required = Укажите координаты или адрес.
field-unknown-region = Региона «{ $value }» нет в справочнике (нужен код КАТО).
field-shop-required = Укажите название магазина или его БИН.
field-unknown-inspector = Инспектора { $value } нет.
field-assignee-format = Нужно значение me, none или идентификатор сотрудника (UUID).
field-block-needs-confirmed = Заблокировать код можно только вместе со статусом «Подтверждено».
field-not-boolean = Должно быть true или false.
field-cursor-format = Курсор должен быть значением next_cursor предыдущей страницы (например, 2026-000123).
field-date-range = Конечная дата не может быть раньше { $from }.
