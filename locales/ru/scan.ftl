# Результат проверки (сканирования) кода, по-русски: вердикт (scan-verdict-),
# статус кода (scan-status-), подписи карточки товара (scan-label-) и ошибки
# сканирования (error-code-).

scan-verdict-genuine = Подлинный: код зарегистрирован в системе Таңба, товар в законном обороте.
scan-verdict-not-found = Код не найден в системе Таңба. Товар может быть поддельным: не покупайте его и сообщите о нарушении.
scan-verdict-invalid-signature = Неверная криптоподпись кода: этот код не выпускался системой Таңба. Товар может быть поддельным.
scan-verdict-not-in-circulation = Товар не находится в обороте: продавать его нельзя.
scan-verdict-sold = Товар с этим кодом уже продан. Если его продают снова, это может быть копия.
scan-verdict-written-off = Код списан: продавать этот товар нельзя.
scan-verdict-blocked = Код заблокирован инспектором: продавать этот товар нельзя.
scan-verdict-suspected-clone = Код, возможно, скопирован: не покупайте этот товар и сообщите о нарушении.

# Почему код подозревается в копировании: строка под вердиктом.
scan-clone-far-apart = Этот код недавно проверяли в другом месте — более чем в { $km } км отсюда. Настоящий товар не мог так быстро переместиться.
scan-clone-offered-after-sale = Товар с этим кодом уже продан, а его снова предлагают к продаже.

scan-status-emitted = Выпущен, ещё не нанесён на товар
scan-status-applied = Нанесён на товар, не введён в оборот
scan-status-introduced = В обороте
scan-status-retired = Выведен из оборота
scan-status-written-off = Списан

scan-page-title = Проверка товара
scan-label-code = Код маркировки
scan-label-product = Товар
scan-label-gtin = Код товара (GTIN)
scan-label-serial = Серийный номер
scan-label-product-group = Товарная группа
scan-label-manufacturer = Изготовитель
scan-label-country = Страна производства
scan-label-importer = Импортёр
scan-label-customs-declaration = Декларация на товары
scan-label-production = Место и дата производства
scan-label-certificate = Сертификат соответствия
scan-label-declaration = Декларация о соответствии
scan-label-test-certificate = Протокол испытаний
scan-label-price = Рекомендуемая розничная цена
scan-label-status = Статус кода
scan-label-life = История кода
scan-life-emitted = Выпущен
scan-life-introduced = Введён в оборот
scan-life-sold = Продан
scan-not-stated = не указано
scan-no-product = Карточка товара не заполнена.
scan-other-language = Қазақша нұсқасы
scan-document = № { $number } от { $date }
scan-price = { $amount } тенге

error-code-malformed = Код не распознан.
error-code-not-a-unit = Это код транспортной упаковки (SSCC). Отсканируйте код единицы товара.
error-scan-place-invalid = Место проверки указано неверно: нужны обе координаты — широта lat от −90 до 90 и долгота lon от −180 до 180, в градусах.
error-scan-context-invalid = Неизвестная цель проверки: context может быть только check или shop.
